// Cache penetration: a flood of requests for ids that do not exist must not become a flood of SQL.
// Concurrent misses of one id share one database read (the lease), the answer "absent" is cached
// with the short negative TTL, and a row created later shows up once its id is invalidated.
import type { RedisClient } from '../../src/redis/client';
import { products } from '../../src/db/schema';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { ABSENT_MARKER, invalidateEntries, readCacheEntry } from '../support/cache-entries';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createOperationRunner, type OperationResult } from '../support/operations';

const NEGATIVE_TTL_SECONDS = 30;
const REQUESTS = 1000;
const DISTINCT_IDS = 100;

let gateway: TestGateway;
let execute: ReturnType<typeof createOperationRunner>;
let redis: RedisClient;

beforeAll(async () => {
  gateway = await startTestGateway({
    // Leases that outlast a slow machine: 100 lease holders queue for the test's small database pool,
    // and a lease that expired (or a wait that gave up) would add reads this test is not about.
    env: { CACHE_NEGATIVE_TTL_SECONDS: String(NEGATIVE_TTL_SECONDS), CACHE_LEASE_TTL_MS: '30000', CACHE_LEASE_WAIT_MS: '10000' },
    seed: { users: 5, products: 20, orders: 0 },
  });
  execute = createOperationRunner(gateway.app);
  redis = gateway.redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
});

const PRODUCT = 'query ($id: ID!) { product(id: $id) { id name priceCents } }';
type ProductData = { product: { id: string; name: string; priceCents: number } | null };

/** 100 distinct ids far above the seeded ones, each requested 10 times, in shuffled order. */
const absentIds = Array.from({ length: DISTINCT_IDS }, (_, index) => 1_000_000 + index * 997 + Math.floor(Math.random() * 997));
const requestedIds = Array.from({ length: REQUESTS }, (_, index) => absentIds[index % DISTINCT_IDS]!).sort(() => Math.random() - 0.5);

/** Every request runs through Apollo with its own context (and so its own DataLoaders), all at once. */
async function wave(): Promise<{ results: Array<OperationResult<ProductData>>; statements: number }> {
  const before = gateway.database.sqlStats.statements;
  const results = await Promise.all(requestedIds.map((id) => execute<ProductData>(PRODUCT, { id: String(id) })));
  return { results, statements: gateway.database.sqlStats.statements - before };
}

it('answers 1,000 concurrent requests for 100 absent ids with null and at most one statement per id', async () => {
  expect(new Set(absentIds).size).toBe(DISTINCT_IDS);
  const { results, statements } = await wave();

  expect(results).toHaveLength(REQUESTS);
  for (const result of results) {
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ product: null });
  }
  expect(statements).toBeGreaterThan(0);
  expect(statements).toBeLessThanOrEqual(DISTINCT_IDS);
  const counters = gateway.app.cacheStats.byType.get('Product')!;
  // The requests really overlapped: readers found another's lease and waited for its write-back.
  expect(counters.leaseWaits).toBeGreaterThan(0);
  expect(counters.failOpens).toBe(0);
  expect(counters.leaseWaitTimeouts).toBe(0);
});

it('serves a second wave within the negative TTL from the "absent" markers, with no statement', async () => {
  const hitsBefore = gateway.app.cacheStats.byType.get('Product')!.hits;
  const { results, statements } = await wave();
  expect(results.every((result) => result.errors === undefined && result.data?.product === null)).toBe(true);
  expect(statements).toBe(0);
  expect(gateway.app.cacheStats.byType.get('Product')!.hits - hitsBefore).toBe(REQUESTS);
});

it('caches an absent id as the "absent" marker with the negative TTL (±10% jitter), not the value TTL', async () => {
  const keys = gateway.app.keys;
  for (const id of absentIds.slice(0, 10)) {
    const entry = await readCacheEntry(redis, keys, productCacheType, id);
    expect(entry.raw).toBe(ABSENT_MARKER);
    expect(entry.ttlMs).toBeGreaterThan(0);
    expect(entry.ttlMs).toBeLessThanOrEqual(NEGATIVE_TTL_SECONDS * 1.1 * 1000);
  }
});

it('shows a row created later under an absent id once that id is invalidated', async () => {
  const id = absentIds[0]!;
  await gateway.app.database.db
    .insert(products)
    .values({ id, sku: `LATE-${id}`, name: 'Late arrival', description: '', priceCents: 4200, stock: 3 });

  // Until the invalidation, the cached "absent" answer stands (the cache really is in the way).
  const stillCached = await execute<ProductData>(PRODUCT, { id: String(id) });
  expect(stillCached.data).toEqual({ product: null });

  await invalidateEntries(gateway.app, productCacheType, [String(id)]);
  const fresh = await execute<ProductData>(PRODUCT, { id: String(id) });
  expect(fresh.errors).toBeUndefined();
  expect(fresh.data).toEqual({ product: { id: String(id), name: 'Late arrival', priceCents: 4200 } });
  const entry = await readCacheEntry(redis, gateway.app.keys, productCacheType, id);
  expect(entry.raw).not.toBeNull();
  expect(productCacheType.decode(entry.raw!).name).toBe('Late arrival');
});
