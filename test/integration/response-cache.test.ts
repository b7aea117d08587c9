// Whole responses cached in Redis (src/cache/response-cache.ts), across two replicas: a repeated
// query is answered without executing, per viewer, never for a revoked session, never for
// documents that read around the loaders or that failed; and never older than an acknowledged
// write, which the versions of the entities and list scopes a response read ensure even when an
// invalidation lands while it is being computed (pinned down deterministically, and in a race),
// while writes to anything else leave it a hit.
import type { RedisClient } from '../../src/redis/client';
import { recordingDependencies } from '../../src/cache/cache-store';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { createLoaders } from '../../src/modules/context';
import { cacheTypeKey } from '../../src/cache/cache-type';
import { invalidateEntries , keysMatching } from '../support/cache-entries';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { startTwoGateways, withoutClose, type TwoGateways } from '../support/two-gateways';
import { loginDemoAccounts, mutate } from '../support/graphql';
import { line, PAY_ORDER, PLACE_ORDER, RESTOCK_PRODUCT, UPDATE_PRODUCT } from '../support/documents';

const MY_ORDERS = '{ orders(first: 5) { edges { node { id status items { quantity product { name } } user { name } } } } }';
const PRICE = 'query ($id: ID!) { product(id: $id) { id priceCents } }';
const RACE_WRITES = 60;

let pair: TwoGateways;
let uncached: TestGateway;
let redis: RedisClient;
let tokens: { admin: string; alice: string; bob: string };

beforeAll(async () => {
  pair = await startTwoGateways({ seed: { users: 10, products: 10, orders: 40 } });
  uncached = await startTestGateway({
    env: { CACHE_ENABLED: 'false' },
    redis: pair.redis,
    database: withoutClose(pair.database),
  });
  redis = pair.redis.connect();
  tokens = await loginDemoAccounts(pair.a);
});

afterAll(async () => {
  redis?.disconnect();
  await uncached?.stop();
  await pair?.stop();
});

const cachedResponseCount = async () => (await keysMatching(redis, pair.a.app.keys.cachedResponse('*'))).length;

async function post(gateway: TestGateway, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const response = await gateway.graphql(query, { variables, token });
  // A response is stored after it is sent (behind its byte budgets): let the store land, so the
  // next request of the test can find it.
  await gateway.app.responseCache?.settled();
  return { status: response.status, text: JSON.stringify(response.body), body: response.body };
}

it('answers a repeated query from the cached response: same bytes, no SQL, no entity cache reads', async () => {
  const { b } = pair;
  const first = await post(b, MY_ORDERS, {}, tokens.alice);
  expect(first.body.errors).toBeUndefined();
  const hitsBefore = b.app.responseCache!.hits;
  const statementsBefore = b.app.database.sqlStats.statements;
  const entityReadsBefore = b.app.cacheStats.total('hits') + b.app.cacheStats.total('misses');
  const second = await post(b, MY_ORDERS, {}, tokens.alice);
  expect(second.text).toBe(first.text);
  expect(b.app.responseCache!.hits).toBe(hitsBefore + 1);
  expect(b.app.database.sqlStats.statements).toBe(statementsBefore);
  expect(b.app.cacheStats.total('hits') + b.app.cacheStats.total('misses')).toBe(entityReadsBefore);
  // The other replica answers it from the same entry.
  const hitsOfA = pair.a.app.responseCache!.hits;
  expect((await post(pair.a, MY_ORDERS, {}, tokens.alice)).text).toBe(first.text);
  expect(pair.a.app.responseCache!.hits).toBe(hitsOfA + 1);
});

it('keeps one response per viewer: each gets what an uncached gateway answers them', async () => {
  for (const token of [tokens.alice, tokens.bob, tokens.admin, undefined]) {
    const query = token ? MY_ORDERS : '{ me { id } product(id: "1") { name } }';
    await post(pair.b, query, {}, token);
    expect((await post(pair.b, query, {}, token)).text).toBe((await post(uncached, query, {}, token)).text);
  }
});

// Clients that follow the GraphQL-over-HTTP spec ask for application/graphql-response+json; a
// cached answer once went out as application/json to them, and to clients Apollo refuses (406).
it('answers a cached query with the media type the request accepts, as Apollo does, and leaves a refusal to Apollo', async () => {
  const { b } = pair;
  const query = '{ product(id: "4") { id name } }';
  const send = (accept?: string) =>
    fetch(b.url, { method: 'POST', headers: { 'content-type': 'application/json', ...(accept && { accept }) }, body: JSON.stringify({ query }) });
  const answer = await (await send()).text();
  await b.app.responseCache!.settled();
  const hitsBefore = b.app.responseCache!.hits;
  const accepted: Array<[string | undefined, string]> = [
    [undefined, 'application/json'],
    ['application/graphql-response+json', 'application/graphql-response+json'],
    ['application/json;q=0.5, application/graphql-response+json', 'application/graphql-response+json'],
    ['*/*', 'application/json'],
  ];
  for (const [accept, type] of accepted) {
    const response = await send(accept);
    expect([accept, response.status, response.headers.get('content-type')]).toEqual([accept, 200, `${type}; charset=utf-8`]);
    expect(await response.text()).toBe(answer);
  }
  expect(b.app.responseCache!.hits).toBe(hitsBefore + accepted.length);
  const refused = await send('text/html');
  expect(refused.status).toBe(406);
  expect(b.app.responseCache!.hits).toBe(hitsBefore + accepted.length);
});

it('shares catalogue-only responses between viewers, and still checks every session', async () => {
  const query = '{ product(id: "4") { id name priceCents } }';
  const first = await post(pair.b, query, {}, tokens.alice);
  const hitsBefore = pair.b.app.responseCache!.hits;
  expect((await post(pair.b, query, {}, tokens.bob)).text).toBe(first.text);
  expect((await post(pair.b, query)).text).toBe(first.text);
  expect(pair.b.app.responseCache!.hits).toBe(hitsBefore + 2);
  // A public answer is read while the session is checked, and neither sent nor counted when the check fails.
  const badToken = await post(pair.b, query, {}, 'not-a-session-token-at-all-aaaaaaaaaaaaaaaa');
  expect(badToken.status).toBe(401);
  expect(badToken.body.data ?? null).toBeNull();
  expect(pair.b.app.responseCache!.hits).toBe(hitsBefore + 2);
});

it('never answers a revoked session from the cache', async () => {
  const token = await pair.a.login('alice@streamgate.dev', 'alice-password');
  await post(pair.b, MY_ORDERS, {}, token);
  await post(pair.b, MY_ORDERS, {}, token);
  const publicQuery = '{ product(id: "5") { id name } }';
  await post(pair.b, publicQuery, {}, token);
  await mutate(pair.a, 'mutation { logout }', {}, token);
  const hitsBefore = pair.b.app.responseCache!.hits;
  for (const query of [MY_ORDERS, publicQuery]) {
    const after = await post(pair.b, query, {}, token);
    expect(after.status).toBe(401);
    expect(after.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(after.body.data ?? null).toBeNull();
  }
  expect(pair.b.app.responseCache!.hits).toBe(hitsBefore);
});

it('stores nothing for documents that read around the loaders, for mutations, or for failed answers', async () => {
  const before = await cachedResponseCount();
  for (const [query, token] of [
    ['{ products(first: 3, search: "a") { edges { node { id } } } }', undefined],
    ['{ notifications(first: 3) { edges { node { id } } } }', tokens.alice],
    ['{ topProducts { units } }', undefined],
    ['{ product(id: "x") { id } }', undefined],
    ['{ product(id: "1") { id } serverTime: __typename }', undefined],
    ['mutation { markNotificationsRead }', tokens.alice],
  ] as const) {
    await post(pair.b, query, {}, token);
    await post(pair.b, query, {}, token);
  }
  // Only the last-but-one document (all root fields cacheable) may have been stored.
  expect(await cachedResponseCount()).toBeLessThanOrEqual(before + 1);
  expect((await post(pair.b, '{ product(id: "x") { id } }')).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

describe('entity-level dependencies', () => {
  /**
   * Computes a response to `key` the way a request does (its loaders record what they read) from
   * product `id`, runs `between` after the read and before the store, then stores it.
   */
  async function storeAcross(key: string, id: number, between: () => Promise<void>) {
    const { app } = pair.b;
    const miss = await app.responseCache!.lookup(key);
    if (!miss || 'body' in miss) throw new Error('expected a miss');
    const loaders = createLoaders(app.database.db, recordingDependencies(app.cache, miss.dependencies));
    const product = await loaders.productById.load(id);
    await between();
    app.responseCache!.store(miss, JSON.stringify({ data: { product: { id: String(id), priceCents: product!.priceCents } } }), 'test');
    await app.responseCache!.settled();
    return app.responseCache!.lookup(key);
  }
  const keyFor = (name: string) => pair.b.app.responseCache!.keyOf('anonymous', `${name}\n${Date.now()}`);

  it('refuses a response computed across an invalidation of an entity it read (the version guard)', async () => {
    // Control: stored with nothing in between, it is served.
    await expect(storeAcross(keyFor('control'), 2, async () => undefined)).resolves.toHaveProperty('body');
    // A write to product 2 is invalidated after the request read it, while the (old) response is
    // still being computed; it is stored only afterwards, and never served.
    await expect(storeAcross(keyFor('across'), 2, () => invalidateEntries(pair.a.app, productCacheType, [2]))).resolves.not.toHaveProperty('body');
    // A write to another product leaves it current.
    await expect(storeAcross(keyFor('unrelated'), 2, () => invalidateEntries(pair.a.app, productCacheType, [5]))).resolves.toHaveProperty('body');
  });

  it("keeps other viewers' responses when one customer orders, and misses exactly those that read what changed", async () => {
    const { a, b } = pair;
    const hits = () => b.app.responseCache!.hits;
    const otherProduct = '{ product(id: "7") { id name stock } }';
    const price = '{ product(id: "8") { id name priceCents } }';
    const stock = '{ product(id: "8") { id stock } }';
    const cached: Array<[string, string | undefined]> = [[MY_ORDERS, tokens.alice], [MY_ORDERS, tokens.bob], [otherProduct, undefined], [price, undefined], [stock, undefined]];
    for (const [query, token] of cached) await post(b, query, {}, token);
    // Bob orders product 8 on A: his orders page and product 8's stock change; Alice's orders,
    // product 7 and product 8's name and price do not.
    await mutate(a, PLACE_ORDER, { input: { items: [line(8)] } }, tokens.bob);

    const before = hits();
    const statementsBefore = b.app.database.sqlStats.statements;
    const kept = [cached[0]!, cached[2]!, cached[3]!];
    const answers = [];
    for (const [query, token] of kept) answers.push((await post(b, query, {}, token)).text);
    expect(hits()).toBe(before + 3);
    expect(b.app.database.sqlStats.statements).toBe(statementsBefore);
    // ...and still right (the uncached gateway shares the database, so it is asked only now).
    for (const [index, [query, token]] of kept.entries()) expect(answers[index]).toBe((await post(uncached, query, {}, token)).text);

    for (const [query, token] of [cached[1]!, cached[4]!]) {
      expect((await post(b, query, {}, token)).text).toBe((await post(uncached, query, {}, token)).text);
    }
    expect(hits()).toBe(before + 3);
  });

  it("misses a customer's cached orders when one of them changes status, though the order itself is covered by the list", async () => {
    const { a, b } = pair;
    const token = await a.login('alice@streamgate.dev', 'alice-password');
    const placed = await mutate<{ placeOrder: { id: string } }>(a, PLACE_ORDER, { input: { items: [line(2)] } }, token);
    await post(b, MY_ORDERS, {}, token);
    const before = await post(b, MY_ORDERS, {}, token);
    expect(before.text).toContain(`"id":"${placed.placeOrder.id}","status":"PENDING"`);
    await mutate(a, PAY_ORDER, { id: placed.placeOrder.id }, token);
    const after = await post(b, MY_ORDERS, {}, token);
    expect(after.text).toContain(`"id":"${placed.placeOrder.id}","status":"PAID"`);
  });

  it('never serves a response again once the versions and generations it was stored with are lost (evicted, expired), even with no write', async () => {
    const query = '{ product(id: "3") { id name stock } }';
    // Memory pressure evicts every key that could vouch for the response: the type's versions and generations.
    const evictVersions = () => {
      const { keys } = pair.a.app;
      const type = cacheTypeKey(productCacheType);
      return redis.del(keys.cacheVersions(type), keys.cacheGeneration(type), keys.cacheStableGeneration(type));
    };
    await post(pair.b, query);
    const hitsBefore = pair.b.app.responseCache!.hits;
    await post(pair.b, query);
    // Not vacuous: the response really was stored and served.
    expect(pair.b.app.responseCache!.hits).toBe(hitsBefore + 1);

    // A write invalidates product 3; then memory pressure evicts the versions a later read set.
    const restocked = await mutate<{ restockProduct: { stock: number } }>(pair.a, RESTOCK_PRODUCT, { id: '3', quantity: 5 }, tokens.admin);
    await evictVersions();
    const after = await post(pair.b, query);
    expect(after.body.data).toEqual({ product: expect.objectContaining({ id: '3', stock: restocked.restockProduct.stock }) });
    await post(pair.b, query);
    await evictVersions();
    // Asked on A, which never held it in memory (B may: nothing changed, so serving it there is
    // right); what is checked is what Redis vouches for.
    const misses = pair.a.app.responseCache!.misses;
    await post(pair.a, query);
    expect(pair.a.app.responseCache!.misses).toBe(misses + 1);
  });
});

it('never answers older than an acknowledged write while writes on A race with cached reads on B', async () => {
  const id = 3;
  let isWriting = true;
  const violations: string[] = [];
  let acknowledged = 0;
  // Readers keep filling and reading the response on B.
  const reader = async () => {
    while (isWriting) {
      // A read may overlap a write and rightly miss it; only one that starts after the write was
      // acknowledged must see it.
      const floor = acknowledged;
      const { body } = await post(pair.b, PRICE, { id: String(id) });
      const seen = (body.data as { product: { priceCents: number } }).product.priceCents;
      if (seen < floor) violations.push(`read ${seen} after ${floor} was acknowledged`);
    }
  };
  const readers = Array.from({ length: 4 }, reader);
  const hitsBefore = pair.b.app.responseCache!.hits;
  for (let write = 1; write <= RACE_WRITES; write += 1) {
    const value = 1_000_000 + write;
    await mutate(pair.a, UPDATE_PRODUCT, { id: String(id), input: { priceCents: value } }, tokens.admin);
    acknowledged = value;
    const { body } = await post(pair.b, PRICE, { id: String(id) });
    const seen = (body.data as { product: { priceCents: number } }).product.priceCents;
    if (seen !== value) violations.push(`wrote ${value} on A, then read ${seen} on B`);
    // Let the readers cache the new value a few times before the next write.
    for (let read = 0; read < 3; read += 1) await post(pair.b, PRICE, { id: String(id) });
  }
  isWriting = false;
  await Promise.all(readers);
  expect(violations).toEqual([]);
  // Not vacuous: reads between the writes were answered from cached responses.
  expect(pair.b.app.responseCache!.hits - hitsBefore).toBeGreaterThan(RACE_WRITES);
});
