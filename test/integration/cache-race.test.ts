// Writers and readers racing on a few hot products across two replicas that share one Redis and one
// database (L1 off): no write may be hidden by a stale cache entry, neither right after it is
// acknowledged (read-your-writes on the other replica) nor at the end (Redis holds the database row
// or nothing). Two deterministic interleavings pin down the guards the random run relies on.
import type { RedisClient } from '../../src/redis/client';
import { inArray } from 'drizzle-orm';
import type { CacheType } from '../../src/cache/cache-type';
import { products, type ProductRow } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { entityKeys, readCachedValue } from '../support/cache-entries';
import type { TestGateway } from '../support/gateway';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';

const HOT_IDS = [1, 2, 3, 4];
/** The race runs until both counts are reached (a count, not a duration: a busy machine only slows it). */
const RACE_WRITES = 120;
const RACE_READS = 300;
/** Ends a run that cannot get there (a hung request), so it always stops by itself. */
const RACE_LIMIT_MS = 60_000;
const WRITER_COUNT = 4;
const READER_COUNT = 6;

let pair: TwoGateways;
let redis: RedisClient;
let adminToken: string;

beforeAll(async () => {
  pair = await startTwoGateways({ seed: { users: 10, products: 10, orders: 20 } });
  redis = pair.redis.connect();
  const admin = demoAccounts[0]!;
  adminToken = await pair.a.login(admin.email, admin.password);
});

afterAll(async () => {
  redis?.disconnect();
  await pair?.stop();
});

const valueKey = (id: number) => entityKeys(pair.a.app.keys, productCacheType, id).value;
const leaseKey = (id: number) => entityKeys(pair.a.app.keys, productCacheType, id).lease;
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

async function readPrice(gateway: TestGateway, id: number): Promise<number> {
  const { status, body } = await gateway.graphql<{ product: { priceCents: number } | null }>(
    'query ($id: ID!) { product(id: $id) { priceCents } }',
    { variables: { id: String(id) } },
  );
  if (status !== 200 || body.errors || !body.data?.product) throw new Error(`product(${id}) failed: ${status} ${JSON.stringify(body)}`);
  return body.data.product.priceCents;
}

async function updatePrice(gateway: TestGateway, id: number, priceCents: number): Promise<void> {
  const { status, body } = await gateway.graphql<{ updateProduct: { priceCents: number } }>(
    'mutation ($id: ID!, $priceCents: Int!) { updateProduct(id: $id, input: { priceCents: $priceCents }) { priceCents } }',
    { variables: { id: String(id), priceCents }, token: adminToken },
  );
  if (status !== 200 || body.data?.updateProduct.priceCents !== priceCents) {
    throw new Error(`updateProduct(${id}, ${priceCents}) failed: ${status} ${JSON.stringify(body)}`);
  }
}

async function databaseRows(ids: number[]): Promise<Map<number, ProductRow>> {
  const rows = await pair.database.db.select().from(products).where(inArray(products.id, ids));
  return new Map(rows.map((row) => [row.id, row]));
}

/** The cached row; null when nothing (or "absent") is cached. */
async function cachedRow(id: number): Promise<ProductRow | null> {
  return (await readCachedValue(redis, pair.a.app.keys, productCacheType, id)) ?? null;
}

/** Runs `critical` for one id at a time, in call order. */
function createKeyedMutex() {
  const tails = new Map<number, Promise<void>>();
  return async <T>(id: number, critical: () => Promise<T>): Promise<T> => {
    const previous = tails.get(id) ?? Promise.resolve();
    let release!: () => void;
    tails.set(id, previous.then(() => new Promise<void>((resolve) => (release = resolve))));
    await previous;
    try {
      return await critical();
    } finally {
      release();
    }
  };
}

it('never lets a stale entry hide an acknowledged write, on either replica, while reads and writes race', async () => {
  const gateways = [pair.a, pair.b] as const;
  // Every price written is above every seeded price, so a stale seeded value can never pass for a new one.
  const seeded = await pair.database.db.select({ priceCents: products.priceCents }).from(products);
  let lastValue = Math.max(...seeded.map((row) => row.priceCents));
  const nextValue = () => (lastValue += 1);
  // Writes of one product are serialised so that commit order is value order: then "at least v"
  // is exactly what a reader must see once the write of v was acknowledged. (Two concurrent
  // writes of one product may commit in either order, and then a smaller value may rightly win.)
  const withProductLock = createKeyedMutex();

  const violations: string[] = [];
  let writes = 0;
  let reads = 0;
  const deadline = Date.now() + RACE_LIMIT_MS;
  const isRunning = () => (writes < RACE_WRITES || reads < RACE_READS) && violations.length === 0 && Date.now() < deadline;

  const writer = async () => {
    while (isRunning()) {
      const id = pick(HOT_IDS);
      const writeOn = Math.random() < 0.5 ? 0 : 1;
      const value = await withProductLock(id, async () => {
        const value = nextValue();
        await updatePrice(gateways[writeOn], id, value);
        return value;
      });
      writes += 1;
      const seen = await readPrice(gateways[1 - writeOn]!, id);
      if (seen < value) violations.push(`product ${id}: wrote ${value} on ${'ab'[writeOn]}, then read ${seen} on ${'ab'[1 - writeOn]}`);
    }
  };
  const reader = async () => {
    while (isRunning()) {
      const gateway = pick(gateways);
      if (Math.random() < 0.2) {
        // A page batches all hot products into one cache read: hits, leases and waits mixed.
        const { body } = await gateway.graphql<{ products: { edges: unknown[] } }>('{ products(first: 4) { edges { node { id priceCents } } } }');
        if (body.errors || body.data?.products.edges.length !== HOT_IDS.length) violations.push(`products page failed: ${JSON.stringify(body)}`);
      } else {
        await readPrice(gateway, pick(HOT_IDS));
      }
      reads += 1;
    }
  };
  // A failing request ends every loop (through isRunning) and is reported with the violations.
  const untilFailure = (loop: () => Promise<void>) => () => loop().catch((error: unknown) => void violations.push(String(error)));
  await Promise.all([
    ...Array.from({ length: WRITER_COUNT }, untilFailure(writer)),
    ...Array.from({ length: READER_COUNT }, untilFailure(reader)),
  ]);

  expect(violations).toEqual([]);
  // Not vacuous: enough writes and reads happened for their races to matter.
  expect(writes).toBeGreaterThanOrEqual(RACE_WRITES);
  expect(reads).toBeGreaterThanOrEqual(RACE_READS);
  const stats = [pair.a, pair.b].map((gateway) => gateway.app.cacheStats.byType.get('Product')!);
  expect(stats.reduce((sum, counters) => sum + counters.hits, 0)).toBeGreaterThan(0);
  expect(stats.reduce((sum, counters) => sum + counters.writeBacks, 0)).toBeGreaterThan(0);

  const rows = await databaseRows(HOT_IDS);
  for (const id of HOT_IDS) {
    const row = rows.get(id)!;
    const cached = await cachedRow(id);
    // Redis holds the database row or nothing; the read below fills it, and then it holds the row.
    if (cached !== null) expect({ id, priceCents: cached.priceCents, version: cached.version }).toEqual({ id, priceCents: row.priceCents, version: row.version });
    expect(await readPrice(pair.a, id)).toBe(row.priceCents);
    expect(await readPrice(pair.b, id)).toBe(row.priceCents);
    const filled = await cachedRow(id);
    expect(filled && { priceCents: filled.priceCents, version: filled.version }).toEqual({ priceCents: row.priceCents, version: row.version });
  }
});

describe('the guards the race relies on, interleaved deterministically', () => {
  const id = 5;

  beforeEach(async () => {
    await redis.del(valueKey(id), leaseKey(id));
  });

  it('drops the write-back of a reader that loaded the row before a write on the other replica', async () => {
    const before = (await databaseRows([id])).get(id)!;
    const dropped = () => pair.b.app.cacheStats.byType.get('Product')?.writeBacksDropped ?? 0;
    const droppedBefore = dropped();
    let signalLoaded!: () => void;
    const hasLoaded = new Promise<void>((resolve) => (signalLoaded = resolve));
    let finishLoad!: () => void;
    const mayFinish = new Promise<void>((resolve) => (finishLoad = resolve));

    // Replica B misses, takes the lease and reads the row; then stalls (a slow query, a GC pause).
    const slowRead = pair.b.app.cache.load(productCacheType, [id], async (ids) => {
      const rows = await databaseRows(ids);
      signalLoaded();
      await mayFinish;
      return ids.map((rowId) => rows.get(rowId) ?? null);
    });
    await hasLoaded;
    // Meanwhile replica A commits a write, which invalidates the value and B's lease.
    await updatePrice(pair.a, id, before.priceCents + 1);
    finishLoad();

    const [loaded] = await slowRead;
    expect(loaded?.priceCents).toBe(before.priceCents);
    expect(await cachedRow(id)).toBeNull();
    expect(dropped()).toBe(droppedBefore + 1);
    expect(await readPrice(pair.b, id)).toBe(before.priceCents + 1);
    expect(await readPrice(pair.a, id)).toBe(before.priceCents + 1);
  });

  it("refuses to fill a page's row read before a write of that type", async () => {
    const rowType = productCacheType as CacheType<unknown, unknown>;
    const generation = await pair.b.app.cache.readGeneration(rowType);
    expect(generation).not.toBeNull();
    const before = (await databaseRows([id])).get(id)!;
    await updatePrice(pair.a, id, before.priceCents + 1);

    await pair.b.app.cache.fill(productCacheType, [[id, before]], generation);
    expect(await cachedRow(id)).toBeNull();
    expect(await readPrice(pair.b, id)).toBe(before.priceCents + 1);
  });
});
