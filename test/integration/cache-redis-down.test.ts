// A Redis outage makes the cache fail open: reads keep being answered from Postgres, without
// errors and without hanging, invalidations made meanwhile are kept and delivered once Redis is
// back, and then the cache is used again. Public queries only: sessions live in Redis too.
import type Redis from 'ioredis';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { encodeCursor } from '../../src/modules/common/pagination';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createOperationRunner } from '../support/operations';

/** A bound on hanging (a read stuck behind a dead connection), not a speed target. */
const LIVENESS_BOUND_MS = 3000;
/** PINGs to wait for the queued invalidations to go out after 'ready' (they are sent on 'ready'). */
const MAX_PINGS = 50;

let gateway: TestGateway;
let execute: ReturnType<typeof createOperationRunner>;
let isRedisDown = false;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 20, orders: 20 } });
  execute = createOperationRunner(gateway.app);
});

afterAll(async () => {
  // Stopping the app while Redis is down is another story; here a failed test must not leave it so.
  if (isRedisDown) await gateway?.redisServer.restart();
  await gateway?.stop();
});

const cacheConnection = (): Redis => gateway.app.redisConnections.cache;
const failOpens = () => gateway.app.cacheStats.total('failOpens');
const productHits = () => gateway.app.cacheStats.byType.get('Product')?.hits ?? 0;

async function killRedis(): Promise<void> {
  await gateway.redisServer.kill();
  isRedisDown = true;
}

/** Restarts redis-server and waits until the cache connection is ready again. */
async function restartRedis(): Promise<void> {
  await gateway.redisServer.restart();
  isRedisDown = false;
  const connection = cacheConnection();
  if (connection.status !== 'ready') await new Promise((resolve) => connection.once('ready', resolve));
}

/** Runs an anonymous query; returns its data, the SQL statements it ran and how long it took. */
async function timedQuery(query: string) {
  const statementsBefore = gateway.database.sqlStats.statements;
  const startedAt = performance.now();
  const result = await execute(query);
  return {
    data: result.data,
    errors: result.errors,
    elapsedMs: performance.now() - startedAt,
    statements: gateway.database.sqlStats.statements - statementsBefore,
  };
}

const QUERIES = [
  '{ product(id: "1") { id name priceCents } }',
  '{ product(id: "2") { id name priceCents stock } }',
  '{ product(id: "9999") { id } }',
  '{ products(first: 5) { edges { node { id name } } pageInfo { hasNextPage endCursor } } }',
  `{ products(first: 3, after: "${encodeCursor(5)}") { edges { node { id name } } } }`,
];

it('answers every query from Postgres while Redis is down, then uses the cache again once it is back', async () => {
  const warm = new Map<string, unknown>();
  for (const query of QUERIES) {
    await timedQuery(query);
    const again = await timedQuery(query);
    expect(again.errors).toBeUndefined();
    expect(again.statements).toBe(0);
    warm.set(query, again.data);
  }

  await killRedis();
  const failOpensBefore = failOpens();
  for (const query of QUERIES) {
    const outage = await timedQuery(query);
    expect(outage.errors).toBeUndefined();
    expect(outage.data).toEqual(warm.get(query));
    expect(outage.statements).toBeGreaterThan(0);
    expect(outage.elapsedMs).toBeLessThan(LIVENESS_BOUND_MS);
  }
  expect(failOpens()).toBeGreaterThanOrEqual(failOpensBefore + QUERIES.length);

  await restartRedis();
  const product = QUERIES[0]!;
  const first = await timedQuery(product);
  expect(first.errors).toBeUndefined();
  const hitsBefore = productHits();
  const second = await timedQuery(product);
  expect(second.data).toEqual(warm.get(product));
  expect(second.statements).toBe(0);
  expect(productHits()).toBe(hitsBefore + 1);
});

it('keeps invalidations made while Redis is down, reads around the cache meanwhile, and delivers them when it is back', async () => {
  const query = '{ product(id: "4") { id name } }';
  await timedQuery(query);
  expect((await timedQuery(query)).statements).toBe(0);

  await killRedis();
  await expect(gateway.app.cache.invalidate(productCacheType, ['4'])).resolves.toBeUndefined();
  expect(gateway.app.cache.pendingInvalidations()).toBeGreaterThan(0);
  const failOpensBefore = failOpens();
  const outage = await timedQuery(query);
  expect(outage.errors).toBeUndefined();
  expect(outage.statements).toBe(1);
  expect(outage.elapsedMs).toBeLessThan(LIVENESS_BOUND_MS);
  expect(failOpens()).toBe(failOpensBefore + 1);

  await restartRedis();
  // The queued invalidation is sent on 'ready'; a PING on the same connection answers after it.
  for (let ping = 0; ping < MAX_PINGS && gateway.app.cache.pendingInvalidations() > 0; ping += 1) await cacheConnection().ping();
  expect(gateway.app.cache.pendingInvalidations()).toBe(0);

  const failOpensAfter = failOpens();
  await timedQuery(query);
  const hitsBefore = productHits();
  const cached = await timedQuery(query);
  expect(cached.errors).toBeUndefined();
  expect(cached.statements).toBe(0);
  expect(productHits()).toBe(hitsBefore + 1);
  expect(failOpens()).toBe(failOpensAfter);
});
