// The cache on an instance of its own (REDIS_CACHE_URL) that is far too small for the data, under
// reads and writes at once: with allkeys-lru it evicts entries, leases, generations and cached
// responses at will; with noeviction it refuses cache writes. Either way no read started after a
// write was acknowledged may show older data, and nothing on the durable instance (sessions,
// events) is lost.
import type { RedisClient } from '../../src/redis/client';
import Redis from 'ioredis';
import { recordingLogger, startTestGateway, type TestGateway } from '../support/gateway';
import { startOwnRedisServer, type TestRedis } from '../../src/testing/redis-topology';
import { mutate } from '../support/graphql';
import { readStream } from '../support/streams';
import { RESTOCK_PRODUCT } from '../support/documents';

const PRODUCTS = 1000;
const WRITES = 40;
const CUSTOMERS = 20;
/** A little over an empty Redis's own ~0.9 MB: far too small for 1,000 products, their pages and responses. */
const CACHE_MAXMEMORY = '1200kb';
const PRODUCT = 'query ($id: ID!) { product(id: $id) { id name description stock } }';
const PAGE = 'query ($after: String) { products(first: 50, after: $after) { edges { node { id description stock } } pageInfo { endCursor } } }';

describe.each(['allkeys-lru', 'noeviction'])('a cache instance at maxmemory with %s', (policy) => {
  /** A redis-server of its own whatever the topology: it runs with a maxmemory and a policy of the test's. */
  let cacheServer: TestRedis;
  let gateway: TestGateway;
  let cacheRedis: RedisClient;
  let durable: RedisClient;

  beforeAll(async () => {
    cacheServer = await startOwnRedisServer({ args: ['--maxmemory', CACHE_MAXMEMORY, '--maxmemory-policy', policy] });
    gateway = await startTestGateway({ seed: { users: CUSTOMERS + 3, products: PRODUCTS, orders: 0 }, env: { REDIS_CACHE_URL: cacheServer.url } });
    cacheRedis = new Redis(cacheServer.url);
    durable = gateway.redis.connect();
  });

  afterAll(async () => {
    cacheRedis?.disconnect();
    durable?.disconnect();
    await gateway?.stop();
    await cacheServer?.stop();
  });

  it('reads never go back behind an acknowledged write, and no session or event is lost', async () => {
    const admin = await gateway.login('admin@streamgate.dev', 'admin-password');
    const customers = await Promise.all(Array.from({ length: CUSTOMERS }, (_, index) => gateway.login(`user${index + 4}@example.com`, 'password')));
    const streamBefore = (await readStream(durable, gateway.redis.keys.stream('catalog'))).length;

    // Stock only grows (restocks), so "older than acknowledged" is "less than acknowledged".
    const acknowledged = new Map<string, number>();
    const violations: string[] = [];
    let isWriting = true;
    const readProduct = async (id: string) => {
      const floor = acknowledged.get(id) ?? 0;
      const { body } = await gateway.graphql<{ product: { stock: number } }>(PRODUCT, { variables: { id } });
      if (body.errors) violations.push(`product ${id}: ${JSON.stringify(body.errors)}`);
      else if (body.data!.product.stock < floor) violations.push(`product ${id}: read ${body.data!.product.stock} after ${floor} was acknowledged`);
    };
    const reader = async (offset: number) => {
      let after: string | null = null;
      for (let round = 0; isWriting; round += 1) {
        // The hot products the writer changes, and a sweep through every page to push the cache past its memory.
        await readProduct(String(1 + ((round + offset) % 5)));
        await readProduct(String(1 + ((round * 7 + offset) % PRODUCTS)));
        const page: { body: { data?: { products: { pageInfo: { endCursor: string | null } } } | null } } = await gateway.graphql(PAGE, { variables: { after } });
        after = page.body.data?.products.pageInfo.endCursor ?? null;
      }
    };
    const readers = Array.from({ length: 4 }, (_, index) => reader(index));
    for (let write = 0; write < WRITES; write += 1) {
      const id = String(1 + (write % 5));
      const { restockProduct } = await mutate<{ restockProduct: { stock: number } }>(gateway, RESTOCK_PRODUCT, { id, quantity: 1 }, admin);
      acknowledged.set(id, restockProduct.stock);
      await readProduct(id);
    }
    isWriting = false;
    await Promise.all(readers);

    expect(violations).toEqual([]);
    // Not vacuous: the cache instance really was full.
    const stats = await cacheRedis.info('stats');
    if (policy === 'allkeys-lru') expect(Number(/evicted_keys:(\d+)/.exec(stats)![1])).toBeGreaterThan(0);
    else expect(gateway.app.cacheStats.total('failOpens')).toBeGreaterThan(0);

    // The durable instance kept every session and every event.
    for (const token of customers) expect((await gateway.graphql('{ me { id } }', { token })).status).toBe(200);
    expect((await readStream(durable, gateway.redis.keys.stream('catalog'))).length - streamBefore).toBe(WRITES);
  });
});

describe('a durable Redis that evicts', () => {
  const EVICTION_WARNING = /evicts keys under memory pressure/;

  it('is named in a warning at start; a noeviction one is not', async () => {
    for (const policy of ['allkeys-lru', 'noeviction']) {
      // Its own redis-server whatever the topology: the test sets its eviction policy.
      const durable = await startOwnRedisServer({ args: ['--maxmemory-policy', policy] });
      const log = recordingLogger();
      const gateway = await startTestGateway({ redis: durable, seed: { users: 3, products: 1, orders: 0 }, logger: log.logger });
      try {
        const warnings = log.lines.filter((line) => EVICTION_WARNING.test(String(line.msg)));
        expect(warnings.map((line) => line.maxmemoryPolicy)).toEqual(policy === 'noeviction' ? [] : [policy]);
      } finally {
        await gateway.stop();
        await durable.stop();
      }
    }
  });
});
