// The key layout on a real 3-master Redis Cluster: what one script or transaction touches shares a
// hash slot (keys.ts hash tags), and the groups spread over the masters. The cache store's scripts
// run per type on the cluster (a cross-slot script would fail with CROSSSLOT), a read after an
// invalidation of two types at once goes back to the database, and the event, projection and
// budget groups each map to one slot.
import { Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { createCacheStore } from '../../src/cache/cache-store';
import { invalidate, staleEntries } from '../../src/cache/invalidation';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { userCacheType } from '../../src/modules/users/user.loader';
import { CacheStats } from '../../src/observability/cache-counters';
import { createRedisKeys } from '../../src/redis/keys';
import { defineCacheScripts } from '../../src/redis/scripts';
import { startClusterSetup, type ClusterSetup } from '../support/redis-cluster';

let cluster: ClusterSetup;
let client: Cluster;
const keys = createRedisKeys('sg', () => 'db1');

beforeAll(async () => {
  cluster = await startClusterSetup();
  client = new Cluster(cluster.nodes, { enableAutoPipelining: true });
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

it('runs the cache scripts per type on the cluster: miss, hit, invalidation of two types at once, miss again', async () => {
  const stats = new CacheStats();
  const store = createCacheStore({
    redis: defineCacheScripts(client as unknown as Redis),
    keys,
    stats,
    ttlMs: 60_000,
    negativeTtlMs: 5_000,
  });
  const databaseReads: string[] = [];
  const loadProducts = async (ids: number[]) => {
    databaseReads.push(...ids.map((id) => `Product ${id}`));
    return ids.map((id) => ({ id, sku: `SKU-${id}`, name: `Product ${id}`, description: '', priceCents: 100, stock: 5, version: 1, createdAt: new Date(0), updatedAt: new Date(0) }));
  };
  const loadUsers = async (ids: number[]) => {
    databaseReads.push(...ids.map((id) => `User ${id}`));
    return ids.map((id) => ({ id, email: `u${id}@example.com`, name: `User ${id}`, role: 'CUSTOMER' as const, version: 1, createdAt: new Date(0), updatedAt: new Date(0) }));
  };
  const readBoth = () => Promise.all([store.load(productCacheType, [1, 2, 3], loadProducts), store.load(userCacheType, [1, 2], loadUsers)]);

  const [products, users] = await readBoth();
  expect(products.map((product) => product?.name)).toEqual(['Product 1', 'Product 2', 'Product 3']);
  expect(users.map((user) => user?.name)).toEqual(['User 1', 'User 2']);
  expect(databaseReads).toHaveLength(5);

  await readBoth();
  expect(databaseReads).toHaveLength(5);
  expect(stats.total('failOpens')).toBe(0);

  await invalidate(defineCacheScripts(client as unknown as Redis), keys, [staleEntries(productCacheType, [2]), staleEntries(userCacheType, [1])]);
  databaseReads.length = 0;
  await readBoth();
  expect(databaseReads.sort()).toEqual(['Product 2', 'User 1']);
  expect(stats.total('failOpens')).toBe(0);
});
