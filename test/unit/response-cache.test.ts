// ResponseCache's own decisions, with its Redis calls faked: what a lookup sends and makes of the
// reply (hit, miss with the generations in force, fail-open), and what a store spends and writes,
// or why it writes nothing. Whether a stored response is still current is response-dependencies.test.ts.
import type { RedisClient } from '../../src/redis/client';
import { rowCacheType } from '../../src/cache/cache-type';
import { ResponseCache, type ResponseCacheOptions, type ResponseMiss } from '../../src/cache/response-cache';
import { encodeStoredResponse } from '../../src/cache/stored-response';
import { createRedisKeys } from '../../src/redis/keys';
import type { CacheScripts } from '../../src/redis/scripts';

const productType = rowCacheType<{ id: number; stock: number }>('Product', 1, ['id', 'stock'], [], { graphqlType: 'Product', stableFields: ['id'] });
const userType = rowCacheType<{ id: number }>('User', 1, ['id']);

function fakeScripts() {
  const calls = { read: [] as unknown[][], spend: [] as unknown[][], set: [] as unknown[][] };
  const replies = { read: [] as Array<unknown | Error>, spend: 1 as unknown };
  const redis = {
    readResponseBuffer: async (...args: unknown[]) => {
      calls.read.push(args);
      const reply = replies.read.shift();
      if (reply instanceof Error) throw reply;
      return reply;
    },
    spendResponseBudget: async (...args: unknown[]) => {
      calls.spend.push(args);
      if (replies.spend instanceof Error) throw replies.spend;
      return replies.spend;
    },
    set: async (...args: unknown[]) => {
      calls.set.push(args);
      return 'OK';
    },
  } as unknown as RedisClient & CacheScripts;
  return { redis, calls, replies };
}

function createCache(overrides: Partial<ResponseCacheOptions> = {}) {
  let identity = 'db1';
  const fake = fakeScripts();
  const errors: unknown[] = [];
  const cache = new ResponseCache({
    redis: fake.redis,
    keys: createRedisKeys('sg', () => identity),
    types: [productType, userType] as ResponseCacheOptions['types'],
    ttlMs: 300_000,
    onError: (error) => errors.push(error),
    ...overrides,
  });
  return { cache, ...fake, errors, useDatabase: (next: string) => (identity = next) };
}

/** A miss whose dependencies read one user, so it has a header and may be stored. */
async function missReadingUser(cache: ResponseCache, replies: { read: unknown[] }): Promise<ResponseMiss> {
  replies.read.push([0, Buffer.from('g0'), Buffer.from('g1'), Buffer.from('g2')]);
  const miss = (await cache.lookup(cache.keyOf('viewer:1', '{ me { id } }'))) as ResponseMiss;
  miss.dependencies.add('User.v1', '1', { stable: 'u1', volatile: '' });
  return miss;
}

describe('lookup', () => {
  it("reads the response and every type's generations in one call: any change, and stable changes of types with a volatile part", async () => {
    const { cache, calls, replies } = createCache();
    replies.read.push([0, Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    const key = cache.keyOf('public', '{ products { id } }');
    await cache.lookup(key);
    const [numKeys, responseKey, ...rest] = calls.read[0]!;
    expect(numKeys).toBe(4);
    expect(responseKey).toBe(key);
    expect(rest.slice(0, 3)).toEqual(['sg:db1:g:{Product.v1}', 'sg:db1:g:{Product.v1}:stable', 'sg:db1:g:{User.v1}']);
    expect(rest.slice(3, 5)).toEqual(['sg:db1:v:{', '}']);
  });

  it('answers a hit with the stored bytes, untouched', async () => {
    const { cache, replies } = createCache();
    const body = Buffer.from('{"data":{"me":null}}');
    replies.read.push(Buffer.from(encodeStoredResponse('-1||d|User.v1|1', body.toString())));
    const lookup = await cache.lookup(cache.keyOf('public', '{ me { id } }'));
    expect(lookup).toEqual({ body });
    // Counted once its outcome is used (the plugin counts it after the session check).
    expect([cache.hits, cache.misses]).toEqual([0, 0]);
    cache.countLookup(lookup);
    expect([cache.hits, cache.misses]).toEqual([1, 0]);
  });

  it('answers a miss with dependencies that record the generations in force, by slot', async () => {
    const { cache, replies } = createCache();
    replies.read.push([0, Buffer.from('gAny'), Buffer.from('gStable'), Buffer.from('gUser')]);
    const miss = (await cache.lookup('k')) as ResponseMiss;
    expect(miss.key).toBe('k');
    miss.dependencies.add('Product.v1', '3', { stable: 's3', volatile: 'x3' });
    miss.dependencies.add('User.v1', '1', { stable: 'u1', volatile: '' });
    // A document that reads only stable Product fields is guarded by the stable generation (slot 1).
    expect(miss.dependencies.header()).toMatch(/^1\|gStable\|[0-9a-f]{40}\|Product\.v1\|3;2\|gUser\|[0-9a-f]{40}\|User\.v1\|1$/);
    cache.countLookup(miss);
    cache.countLookup(null); // Redis did not answer: neither
    expect([cache.hits, cache.misses]).toEqual([0, 1]);
  });

  it("records the volatile part for the types the document reads it of", async () => {
    const { cache, replies } = createCache();
    replies.read.push([0, Buffer.from('gAny'), Buffer.from('gStable'), Buffer.from('gUser')]);
    const miss = (await cache.lookup('k', new Set(['Product.v1']))) as ResponseMiss;
    miss.dependencies.add('Product.v1', '3', { stable: 's3', volatile: 'x3' });
    expect(miss.dependencies.header()).toMatch(/^0\|gAny\|[0-9a-f]{40}\|Product\.v1\|3!$/);
  });

  it('fails open: Redis not answering is null (execute the query), reported, not thrown', async () => {
    const { cache, replies, errors } = createCache();
    replies.read.push(new Error('Command timed out'));
    await expect(cache.lookup('k')).resolves.toBeNull();
    expect(errors).toHaveLength(1);
    expect([cache.hits, cache.misses]).toEqual([0, 0]);
  });

  it("reads the new database's generations once the database identity changed (a reseed)", async () => {
    const { cache, calls, replies, useDatabase } = createCache();
    replies.read.push([0, Buffer.from('a'), Buffer.from('b'), Buffer.from('c')], [0, Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    await cache.lookup('k');
    useDatabase('db2');
    await cache.lookup('k');
    expect(calls.read[1]!.slice(2)).toEqual(['sg:db2:g:{Product.v1}', 'sg:db2:g:{Product.v1}:stable', 'sg:db2:g:{User.v1}', 'sg:db2:v:{', '}', expect.any(String)]);
  });

  it('keys responses by viewer scope and request: another viewer or another request is another key', () => {
    const { cache } = createCache();
    const key = cache.keyOf('viewer:1', '{ me { id } }');
    expect(cache.keyOf('viewer:1', '{ me { id } }')).toBe(key);
    expect(cache.keyOf('viewer:2', '{ me { id } }')).not.toBe(key);
    expect(cache.keyOf('viewer:1', '{ me { name } }')).not.toBe(key);
    expect(key.startsWith('sg:db1:r:')).toBe(true);
  });
});

describe('store', () => {
  it('writes the header length (8 digits), the header, then the body, with the budgets halved per window', async () => {
    const { cache, calls, replies } = createCache({ ttlMs: 120_000, budgetBytes: 1000_000, clientBudgetBytes: 10_000 });
    const miss = await missReadingUser(cache, replies);
    const header = miss.dependencies.header()!;
    const body = '{"data":{"me":{"id":"1"}}}';
    cache.store(miss, body, 'viewer:1');
    await cache.settled();
    const [numKeys, clientBudgetKey, totalBudgetKey, cost, clientBudget, totalBudget, windowMs] = calls.spend[0]!;
    expect([numKeys, clientBudgetKey, totalBudgetKey]).toEqual([2, 'sg:{response-budget}:client:viewer:1', 'sg:{response-budget}:all']);
    const [responseKey, value, px, ttlMs] = calls.set[0]!;
    expect(responseKey).toBe(miss.key);
    expect(value).toBe(`${String(header.length).padStart(8, '0')}${header}${body}`);
    // Two windows' responses coexist (a response outlives its window by one TTL): each may spend half.
    expect([clientBudget, totalBudget, windowMs, px, ttlMs]).toEqual([5_000, 500_000, 120_000, 'PX', 120_000]);
    // Redis's own bookkeeping per entry is paid for too.
    expect(cost).toBe(Buffer.byteLength(miss.key) + Buffer.byteLength(value as string) + 256);
    expect(cache.storedBytes).toBe(Buffer.byteLength(miss.key) + Buffer.byteLength(value as string));
  });

  it('stores nothing for a response that read nothing through the cache, or read something unversioned', async () => {
    const { cache, calls, replies } = createCache();
    replies.read.push([0, Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    const nothingRead = (await cache.lookup('k')) as ResponseMiss;
    cache.store(nothingRead, '{"data":{}}', 'viewer:1');
    const untracked = await missReadingUser(cache, replies);
    untracked.dependencies.untrack();
    cache.store(untracked, '{"data":{}}', 'viewer:1');
    await cache.settled();
    expect(calls.spend).toHaveLength(0);
    expect(calls.set).toHaveLength(0);
  });

  it('stores nothing larger than maxResponseBytes, counted in UTF-8 bytes', async () => {
    const { cache, calls, replies } = createCache({ maxResponseBytes: 100 });
    const miss = await missReadingUser(cache, replies);
    cache.store(miss, `"${'€'.repeat(40)}"`, 'viewer:1'); // 42 characters, 122 bytes
    await cache.settled();
    expect(calls.spend).toHaveLength(0);
    cache.store(miss, `"${'e'.repeat(98)}"`, 'viewer:1'); // exactly 100 bytes
    await cache.settled();
    expect(calls.set).toHaveLength(1);
  });

  it('writes nothing, and counts nothing, over a budget (the spend answered 0)', async () => {
    const { cache, calls, replies } = createCache();
    const miss = await missReadingUser(cache, replies);
    replies.spend = 0;
    cache.store(miss, '{}', 'viewer:1');
    await cache.settled();
    expect(calls.set).toHaveLength(0);
    expect(cache.storedBytes).toBe(0);
  });

  it('never throws for a failed store: reports it, and settled() still resolves', async () => {
    const { cache, replies, errors } = createCache();
    const miss = await missReadingUser(cache, replies);
    replies.spend = new Error('OOM command not allowed');
    expect(() => cache.store(miss, '{}', 'viewer:1')).not.toThrow();
    await cache.settled();
    expect(errors).toEqual([expect.objectContaining({ message: 'OOM command not allowed' })]);
  });

  it('uses a window of at least one second for a very short TTL', async () => {
    const { cache, calls, replies } = createCache({ ttlMs: 50 });
    const miss = await missReadingUser(cache, replies);
    cache.store(miss, '{}', 'viewer:1');
    await cache.settled();
    expect([calls.spend[0]![6], calls.set[0]![3]]).toEqual([1000, 50]);
  });
});
