// The key layout on a real 3-master Redis Cluster: what one script or transaction touches shares a
// hash slot (keys.ts hash tags), and the groups spread over the masters. The cache store's scripts
// run per type on the cluster through the gateway's own connection (a cross-slot script would fail
// with CROSSSLOT; a script auto-pipelined with another master's would fail too), a read after an
// invalidation of two types at once goes back to the database, and the event, projection and
// budget groups each map to one slot.
import { Cluster } from 'ioredis';
import { createCacheStore } from '../../src/cache/cache-store';
import { invalidate, staleEntries } from '../../src/cache/invalidation';
import { rowCacheType } from '../../src/cache/cache-type';
import { CacheStats } from '../../src/observability/cache-counters';
import { createRedisKeys } from '../../src/redis/keys';
import { defineCacheScripts } from '../../src/redis/scripts';
import { connectRedis } from '../../src/redis/connection';
import { startClusterSetup, type ClusterSetup } from '../../src/testing/redis-cluster';

let cluster: ClusterSetup;
let client: Cluster;
const keys = createRedisKeys('sg', () => 'db1');

beforeAll(async () => {
  cluster = await startClusterSetup();
  // As the gateway opens it (auto-pipelined, scripts sent on their own), so the routing is tested too.
  client = (await connectRedis({ target: { kind: 'cluster', nodes: cluster.nodes } }, { enableAutoPipelining: true })) as Cluster;
});

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

const slotOf = async (key: string) => Number(await client.cluster('KEYSLOT', key));
const slotsOf = async (group: string[]) => new Set(await Promise.all(group.map(slotOf)));

it('keeps each atomic group in one slot, and spreads the groups', async () => {
  const cacheGroup = (type: string) => [keys.cacheValue(type, '7'), keys.cacheLease(type, '7'), keys.cacheValue(type, '8'), keys.cacheVersions(type), keys.cacheGeneration(type), keys.cacheStableGeneration(type)];
  const groups = {
    product: cacheGroup('Product.v1'),
    user: cacheGroup('User.v1'),
    order: cacheGroup('Order.v1'),
    events: [keys.stream('orders'), keys.stream('catalog'), keys.deadLetterStream('orders'), keys.publishedOutboxRow(42), keys.lastPublishedOutboxId(), keys.databaseIdentity()],
    topProducts: [keys.topProducts(), keys.topProductsApplied('e1'), keys.topProductsRebuildLock(), keys.topProductsStaging('t1')],
    budgets: [keys.responseCacheBudget('viewer:1'), keys.responseCacheBudget()],
  };
  const slotByGroup = new Map<string, number>();
  for (const [name, group] of Object.entries(groups)) {
    const slots = await slotsOf(group);
    expect({ name, slots: slots.size }).toEqual({ name, slots: 1 });
    slotByGroup.set(name, [...slots][0]!);
  }
  // Not one tag for everything: the groups land on different slots, and responses each on their own.
  expect(new Set(slotByGroup.values()).size).toBe(slotByGroup.size);
  expect((await slotsOf([keys.cachedResponse('a'), keys.cachedResponse('b'), keys.cachedResponse('c')])).size).toBe(3);
});

it('runs the cache scripts per type on the cluster: miss, hit, invalidation of two types on two masters at once, miss again', async () => {
  // Two types whose slots are on different masters: one batch of a script per type, each on its own master.
  const productType = rowCacheType<{ id: number; name: string }>('Product', 1, ['id', 'name']);
  const orderType = rowCacheType<{ id: number; name: string }>('Order', 1, ['id', 'name']);
  const masterOf = async (type: string) => client.slots[await slotOf(keys.cacheVersions(type))]![0];
  expect(await masterOf('Product.v1')).not.toBe(await masterOf('Order.v1'));

  const stats = new CacheStats();
  const redis = defineCacheScripts(client);
  const store = createCacheStore({ redis, keys, stats, ttlMs: 60_000, negativeTtlMs: 5_000 });
  const databaseReads: string[] = [];
  const loader = (type: string) => async (ids: number[]) => {
    databaseReads.push(...ids.map((id) => `${type} ${id}`));
    return ids.map((id) => ({ id, name: `${type} ${id}` }));
  };
  const readBoth = () => Promise.all([store.load(productType, [1, 2, 3], loader('Product')), store.load(orderType, [1, 2], loader('Order'))]);

  const [products, orders] = await readBoth();
  expect(products.map((product) => product?.name)).toEqual(['Product 1', 'Product 2', 'Product 3']);
  expect(orders.map((order) => order?.name)).toEqual(['Order 1', 'Order 2']);
  expect(databaseReads).toHaveLength(5);

  await readBoth();
  expect(databaseReads).toHaveLength(5);
  expect(stats.total('failOpens')).toBe(0);

  await invalidate(redis, keys, [staleEntries(productType, [2]), staleEntries(orderType, [1])]);
  databaseReads.length = 0;
  await readBoth();
  expect(databaseReads.sort()).toEqual(['Order 1', 'Product 2']);
  expect(stats.total('failOpens')).toBe(0);
});
