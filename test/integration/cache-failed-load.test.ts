// A load that fails (its SQL throws) must not hold up anyone else. Its leases are released, so a
// reader of the same key on another replica reads again and takes the lease itself instead of
// waiting out CACHE_LEASE_WAIT_MS; a release never deletes a lease another reader has taken since.
// And one bad key of a batch fails only its own readers: the pages batched with it still load,
// whether the bad key is caught before SQL (a cursor past the id range) or its SQL throws.
// Two replicas share one redis-server and one PGlite database; failures are real SQL errors.
import type { RedisClient } from '../../src/redis/client';
import type { RedisKeys } from '../../src/redis/keys';
import { desc, eq, inArray } from 'drizzle-orm';
import { orders, products } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import type { CacheCounterName, CacheStats } from '../../src/observability/cache-counters';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { encodeCursor } from '../../src/modules/common/pagination';
import { createOrderLoaders, orderPageCacheType, type OrderPageKey } from '../../src/modules/orders/order.loader';
import { entityKeys, invalidateEntries, readCachedValue } from '../support/cache-entries';
import type { TestGateway } from '../support/gateway';
import { createOperationRunner } from '../support/operations';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';
import { deferred } from '../../src/testing/wait';

/** One past the largest `integer`: as a query parameter against an integer column, the SQL throws. */
const OUT_OF_RANGE_ID = 2_147_483_648;

let pair: TwoGateways;
let redis: RedisClient;
let redisKeys: RedisKeys;

beforeAll(async () => {
  pair = await startTwoGateways({ seed: { users: 5, products: 10, orders: 30 } });
  redis = pair.redis.connect();
  redisKeys = pair.a.app.keys;
});

afterAll(async () => {
  redis?.disconnect();
  await pair?.stop();
});

const counter = (gateway: TestGateway, type: string, name: CacheCounterName) => gateway.app.cacheStats.byType.get(type)?.[name] ?? 0;

/** Resolves when the replica's cache next counts `name` for `type` (e.g. a reader starts to wait for a lease). */
function nextCount(stats: CacheStats, type: string, name: CacheCounterName): Promise<void> {
  const add = stats.add.bind(stats);
  return new Promise((resolve) => {
    const spy = jest.spyOn(stats, 'add').mockImplementation((countedType, countedName, amount) => {
      add(countedType, countedName, amount);
      if (countedType === type && countedName === name) {
        spy.mockRestore();
        resolve();
      }
    });
  });
}

/** A real statement that fails: compares an integer column with a value out of its range. */
const failingProductQuery = () => pair.database.db.select().from(products).where(eq(products.id, OUT_OF_RANGE_ID));

/** What the database said (drizzle wraps it in a "Failed query" error). */
const OUT_OF_RANGE = { cause: expect.objectContaining({ message: expect.stringMatching(/out of range for type integer/) }) };

const productRows = (ids: number[]) => pair.database.db.select().from(products).where(inArray(products.id, ids));

async function expectCold(id: number): Promise<void> {
  const { value, lease } = entityKeys(redisKeys, productCacheType, id);
  await redis.del(value, lease);
}

const leaseOf = (id: number) => redis.hget(entityKeys(redisKeys, productCacheType, id).lease, productCacheType.locate(id).field);

describe('a load whose SQL throws', () => {
  it('releases its lease, so a reader on another replica takes the lease itself instead of waiting it out', async () => {
    const id = 3;
    await expectCold(id);
    const before = { waits: counter(pair.b, 'Product', 'leaseWaits'), timeouts: counter(pair.b, 'Product', 'leaseWaitTimeouts') };
    const writeBacksBefore = counter(pair.b, 'Product', 'writeBacks');
    const holderLoading = deferred();
    const otherReaderWaiting = nextCount(pair.b.app.cacheStats, 'Product', 'leaseWaits');

    // Replica A misses, takes the lease, and holds it until B's reader waits on it; then its SQL throws.
    const failedLoad = pair.a.app.cache.load(productCacheType, [id], async () => {
      holderLoading.resolve();
      await otherReaderWaiting;
      return failingProductQuery();
    });
    await holderLoading.promise;
    const otherRead = createOperationRunner(pair.b.app)<{ product: { name: string } | null }>('query ($id: ID!) { product(id: $id) { name } }', {
      id: String(id),
    });

    await expect(failedLoad).rejects.toMatchObject(OUT_OF_RANGE);
    const answer = await otherRead;
    const [row] = await productRows([id]);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.product?.name).toBe(row!.name);
    // B waited for A's lease once, never until its deadline, and then loaded and cached the row itself.
    expect(counter(pair.b, 'Product', 'leaseWaits')).toBe(before.waits + 1);
    expect(counter(pair.b, 'Product', 'leaseWaitTimeouts')).toBe(before.timeouts);
    expect(counter(pair.b, 'Product', 'writeBacks')).toBe(writeBacksBefore + 1);
    expect((await readCachedValue(redis, redisKeys, productCacheType, id))?.name).toBe(row!.name);
    expect(await leaseOf(id)).toBeNull();
  });

  it('does not release a lease that another reader took after an invalidation deleted its own', async () => {
    const id = 4;
    await expectCold(id);
    const dropped = () => counter(pair.b, 'Product', 'writeBacksDropped');
    const droppedBefore = dropped();
    const firstLoading = deferred();
    const secondLeased = deferred();
    const firstFailed = deferred();

    const failedLoad = pair.a.app.cache.load(productCacheType, [id], async () => {
      firstLoading.resolve();
      await secondLeased.promise;
      return failingProductQuery();
    });
    await firstLoading.promise;
    // A write elsewhere deletes the first reader's lease; a second reader misses and takes a new one.
    await invalidateEntries(pair.a.app, productCacheType, [String(id)]);
    const secondLoad = pair.b.app.cache.load(productCacheType, [id], async (ids) => {
      secondLeased.resolve();
      await firstFailed.promise;
      return productRows(ids);
    });

    await expect(failedLoad).rejects.toMatchObject(OUT_OF_RANGE);
    expect(await leaseOf(id)).not.toBeNull();
    firstFailed.resolve();
    const [row] = await secondLoad;
    expect(row).not.toBeInstanceOf(Error);
    expect(dropped()).toBe(droppedBefore);
    expect(await readCachedValue(redis, redisKeys, productCacheType, id)).toEqual(row);
  });
});

describe('one bad key in a batch', () => {
  async function newestOrderIds(userId: number, count: number): Promise<string[]> {
    const rows = await pair.database.db.select({ id: orders.id }).from(orders).where(eq(orders.userId, userId)).orderBy(desc(orders.id)).limit(count);
    return rows.map((row) => String(row.id));
  }

  async function usersWithOrders(count: number): Promise<number[]> {
    const rows = await pair.database.db.selectDistinct({ userId: orders.userId }).from(orders).orderBy(orders.userId).limit(count);
    expect(rows).toHaveLength(count);
    return rows.map((row) => row.userId);
  }

  it('fails only its own field of a GraphQL request (a cursor past the id range is BAD_USER_INPUT)', async () => {
    const [first, second] = await usersWithOrders(2);
    const admin = demoAccounts[0]!;
    const execute = createOperationRunner(pair.a.app);
    const pageOf = (alias: string, userId: number, after: string | null) =>
      `${alias}: user(id: "${userId}") { orders(first: 2${after ? `, after: "${after}"` : ''}) { edges { node { id } } } }`;
    const result = await execute<Record<string, { orders: { edges: Array<{ node: { id: string } }> } } | null>>(
      `{ ${pageOf('good', first!, null)} ${pageOf('alsoGood', second!, null)} ${pageOf('bad', first!, encodeCursor(OUT_OF_RANGE_ID))} }`,
      undefined,
      await pair.a.login(admin.email, admin.password),
    );

    const idsOf = (alias: string) => result.data?.[alias]?.orders.edges.map((edge) => edge.node.id);
    expect(idsOf('good')).toEqual(await newestOrderIds(first!, 2));
    expect(idsOf('alsoGood')).toEqual(await newestOrderIds(second!, 2));
    expect(result.data?.bad).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]).toMatchObject({ path: ['bad', 'orders'], extensions: { code: 'BAD_USER_INPUT', argumentName: 'after' } });
  });

  it('whose shared statement throws is loaded key by key: the good pages load, only the bad one gets the error, and its lease is released', async () => {
    const [first, second] = await usersWithOrders(2);
    const page = (scope: number): OrderPageKey => ({ scope, status: null, first: 2, afterId: null });
    // A scope no real key has (viewers' ids are in range), but it makes the window query of the whole batch throw.
    const keys = [page(first!), page(OUT_OF_RANGE_ID), page(second!)];
    const pageKeys = keys.map((key) => entityKeys(redisKeys, orderPageCacheType, key));
    await redis.del(...pageKeys.flatMap(({ value, lease }) => [value, lease]));
    const { orderPages } = createOrderLoaders(pair.a.app.database.db, pair.a.app.cache);

    const [good, bad, alsoGood] = await Promise.all(keys.map((key) => orderPages.load(key).catch((error: unknown) => error as Error)));

    const idsOf = (page: Awaited<ReturnType<typeof orderPages.load>> | Error | undefined) =>
      page instanceof Error ? page : page?.rows.map((row) => String(row.id));
    expect(idsOf(good)).toEqual(await newestOrderIds(first!, 2));
    expect(idsOf(alsoGood)).toEqual(await newestOrderIds(second!, 2));
    expect(bad).toBeInstanceOf(Error);
    expect(bad).toMatchObject(OUT_OF_RANGE);
    const fields = keys.map((key) => orderPageCacheType.locate(key).field);
    expect(await redis.hget(pageKeys[1]!.lease, fields[1]!)).toBeNull();
    expect(await redis.hget(pageKeys[1]!.value, fields[1]!)).toBeNull();
    expect(await redis.hget(pageKeys[0]!.value, fields[0]!)).not.toBeNull();
    expect(await redis.hget(pageKeys[2]!.value, fields[2]!)).not.toBeNull();
  });
});
