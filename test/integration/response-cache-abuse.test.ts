// The response cache cannot be turned against Redis (the production build): its key is the
// canonical operation (printed document, declared variables only, coerced), responses over
// CACHE_RESPONSE_MAX_BYTES are not stored, and what responses are stored is bounded per client
// and in total, so a flood of distinct cacheable anonymous requests grows Redis memory by less
// than CACHE_RESPONSE_BUDGET_BYTES. Variables nested thousands deep never cause a 500.
import { keysMatching } from '../support/cache-entries';
import type { RedisClient } from '../../src/redis/client';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { loginDemoAccounts } from '../support/graphql';

const BUDGET_BYTES = 1_000_000;
const CLIENT_BUDGET_BYTES = 600_000;
const MAX_RESPONSE_BYTES = 4_000;
const FLOOD_REQUESTS = 10_000;
const FLOOD_CONCURRENCY = 8;
const PRICE = 'query Price($id: ID!) { product(id: $id) { id priceCents } }';

let gateway: TestGateway;
let redis: RedisClient;
let tokens: { admin: string; alice: string; bob: string };

beforeAll(async () => {
  gateway = await startTestGateway({
    env: {
      NODE_ENV: 'production',
      METRICS_PORT: '0',
      // Longer than the test: nothing expires while memory is measured.
      CACHE_RESPONSE_TTL_SECONDS: '3600',
      CACHE_RESPONSE_BUDGET_BYTES: String(BUDGET_BYTES),
      CACHE_RESPONSE_CLIENT_BUDGET_BYTES: String(CLIENT_BUDGET_BYTES),
      CACHE_RESPONSE_MAX_BYTES: String(MAX_RESPONSE_BYTES),
    },
    seed: { users: 5, products: 60, orders: 10 },
    // Its own redis-server whatever the topology: the test measures the whole server's used_memory.
    ownRedisServer: true,
  });
  redis = gateway.redis.connect();
  tokens = await loginDemoAccounts(gateway);
});

afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
});

const storedResponses = async () => (await keysMatching(redis, gateway.app.keys.cachedResponse('*'))).length;
const hits = () => gateway.app.responseCache!.hits;
/** Every store this gateway started has reached Redis. */
const storesSettled = async () => {
  await gateway.app.responseCache!.settled();
  await gateway.app.redisConnections.cache.ping();
};
const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);

async function postRaw(body: string, token?: string) {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return { status: response.status, text: await response.text() };
}

/** Distinct cacheable documents (an alias per request), each with junk variables it does not declare. */
async function flood(requests: number, token?: string, tag = 'p') {
  let next = 0;
  const statuses = new Set<number>();
  const worker = async () => {
    while (next < requests) {
      const index = (next += 1);
      const query = `{ ${tag}${index}: products(first: 4) { edges { node { id name description priceCents } } } }`;
      const response = await gateway.graphql(query, { variables: { junk: `${index}-${'x'.repeat(200)}` }, token });
      statuses.add(response.status);
    }
  };
  await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, worker));
  await storesSettled();
  return statuses;
}

it('keys on the canonical operation: undeclared variables, spacing and comments do not make a new entry', async () => {
  const first = await gateway.graphql(PRICE, { variables: { id: '2' } });
  expect(first.body.data).toEqual({ product: expect.objectContaining({ id: '2' }) });
  await storesSettled();
  const entries = await storedResponses();
  const hitsBefore = hits();
  for (const [query, variables] of [
    [PRICE, { id: '2', junk: 'anything' }],
    [PRICE, { id: '2', junk: { deeper: [1, 2, 3] } }],
    [`# a comment\nquery Price( $id : ID! ) {\n  product(id: $id) { id, priceCents }\n}`, { id: '2' }],
  ] as const) {
    const again = await gateway.graphql(query, { variables });
    expect(again.body).toEqual(first.body);
  }
  expect(hits()).toBe(hitsBefore + 3);
  await storesSettled();
  expect(await storedResponses()).toBe(entries);
});

it('does not store a response larger than CACHE_RESPONSE_MAX_BYTES', async () => {
  const large = '{ products(first: 50) { edges { node { id sku name description priceCents stock } } } }';
  const first = await postRaw(JSON.stringify({ query: large }));
  expect(first.status).toBe(200);
  expect(first.text.length).toBeGreaterThan(MAX_RESPONSE_BYTES);
  await storesSettled();
  const entries = await storedResponses();
  const hitsBefore = hits();
  expect((await postRaw(JSON.stringify({ query: large }))).text).toBe(first.text);
  await storesSettled();
  expect(hits()).toBe(hitsBefore);
  expect(await storedResponses()).toBe(entries);
  // Not vacuous: a small response is still stored.
  await gateway.graphql('{ product(id: "7") { id } }');
  await storesSettled();
  expect(await storedResponses()).toBe(entries + 1);
});

it('answers variables nested thousands deep with 200 when undeclared and 400 BAD_USER_INPUT when declared, never a 500', async () => {
  const depth = 100_000;
  const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const undeclared = await postRaw(`{"query":"{ product(id: \\"3\\") { id } }","variables":{"junk":${deep}}}`);
  expect(undeclared.status).toBe(200);
  expect(JSON.parse(undeclared.text)).toEqual({ data: { product: { id: '3' } } });

  const declared = await postRaw(`{"query":${JSON.stringify(PRICE)},"variables":{"id":${deep}}}`);
  expect(declared.status).toBe(400);
  const body = JSON.parse(declared.text) as { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
  expect(body.errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
  expect(declared.text).not.toMatch(/stacktrace|RangeError/);

  const deepObject = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const deepMutation = await postRaw(`{"query":"mutation ($i: UpdateProductInput!) { updateProduct(id: \\"1\\", input: $i) { id } }","variables":{"i":${deepObject}}}`, tokens.admin);
  expect(deepMutation.status).toBe(400);
  expect(deepMutation.text).not.toMatch(/stacktrace|RangeError|INTERNAL_SERVER_ERROR/);

  // Still serving.
  expect((await gateway.graphql('{ product(id: "3") { id } }')).body.data).toEqual({ product: { id: '3' } });
});

it('grows Redis memory by less than CACHE_RESPONSE_BUDGET_BYTES under a flood of distinct cacheable requests, and /metrics shows the bytes stored', async () => {
  const before = await usedMemory();
  const storedBefore = gateway.app.responseCache!.storedBytes;
  expect(await flood(FLOOD_REQUESTS)).toEqual(new Set([200]));
  // One client cannot take the whole budget: another's responses are still stored.
  await gateway.graphql('{ product(id: "9") { id name } }', { token: tokens.alice });
  await storesSettled();
  const hitsBefore = hits();
  await gateway.graphql('{ product(id: "9") { id name } }', { token: tokens.alice });
  expect(hits()).toBe(hitsBefore + 1);
  // Several clients together stay within the total budget.
  for (const [tag, token] of [['a', tokens.alice], ['b', tokens.bob], ['c', tokens.admin]] as const) await flood(600, token, tag);

  const grownBytes = (await usedMemory()) - before;
  expect(grownBytes).toBeLessThan(BUDGET_BYTES);
  const storedBytes = gateway.app.responseCache!.storedBytes - storedBefore;
  expect(storedBytes).toBeGreaterThan(0);
  const metrics = await (await fetch(`${gateway.operatorOrigin!}/metrics`)).text();
  const reported = Number(/^streamgate_response_cache_stored_bytes_total (\d+)/m.exec(metrics)?.[1]);
  expect(reported).toBe(gateway.app.responseCache!.storedBytes);
  expect(reported).toBeLessThanOrEqual(BUDGET_BYTES);
  // About 12,000 requests over HTTP: 35-50 s on this machine, 100-190 s on a loaded one.
}, 300_000);
