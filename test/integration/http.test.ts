// What an HTTP client sees, bad input included: GraphQL-shaped errors with the right code and
// status, never a 500 or a stack trace in production mode, and the server keeps serving.
import { startTestGateway, type TestGateway } from '../support/gateway';
import { serverOf } from '../../src/testing/redis-topology';

let gateway: TestGateway;

beforeAll(async () => {
  // Its own redis-server whatever the topology: the readiness test kills and restarts it.
  gateway = await startTestGateway({ env: { NODE_ENV: 'production', GRAPHQL_MAX_DEPTH: '6', METRICS_PORT: '0' }, ownRedisServer: true });
});

afterAll(() => gateway?.stop());

async function post(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const response = await fetch(gateway.url, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), text, json: JSON.parse(text) as { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> } };
}

/** The METRICS_PORT listener, where production serves the /readyz details. */
const operatorBase = () => gateway.operatorOrigin!;

const codeOf = (json: { errors?: Array<{ extensions?: { code?: string } }> }) => json.errors?.[0]?.extensions?.code;

it('answers queries over POST and GET', async () => {
  const viaPost = await gateway.graphql<{ product: { sku: string } }>('{ product(id: "1") { sku } }');
  expect(viaPost.status).toBe(200);
  expect(viaPost.body.data!.product.sku).toBe('SKU-000001');
  const query = encodeURIComponent('query ($id: ID!) { product(id: $id) { sku } }');
  const variables = encodeURIComponent(JSON.stringify({ id: '2' }));
  const viaGet = await fetch(`${gateway.url}?query=${query}&variables=${variables}`);
  expect(viaGet.status).toBe(200);
  expect(await viaGet.json()).toEqual({ data: { product: { sku: 'SKU-000002' } } });
});

it('refuses mutations over GET', async () => {
  const query = encodeURIComponent('mutation { logoutAll }');
  const response = await fetch(`${gateway.url}?query=${query}`);
  expect(response.status).toBe(405);
});

/** Bad requests: those refused before Apollo runs, and Apollo's own. */
const BAD_REQUESTS = [
  ['malformed JSON', '{"query": "{ me { id } "', 400, 'BAD_REQUEST'],
  ['a body that is not an object', '[1, 2', 400, 'BAD_REQUEST'],
  ['a query that does not parse', JSON.stringify({ query: '{ products { ' }), 400, 'GRAPHQL_PARSE_FAILED'],
  ['an unknown field', JSON.stringify({ query: '{ products { edges { node { colour } } } }' }), 400, 'GRAPHQL_VALIDATION_FAILED'],
  [
    'a variable of the wrong type',
    JSON.stringify({ query: 'query ($first: Int) { products(first: $first) { edges { cursor } } }', variables: { first: 'ten' } }),
    400,
    'BAD_USER_INPUT',
  ],
  ['a missing query', JSON.stringify({ variables: {} }), 400, 'BAD_REQUEST'],
  [
    'a query deeper than the limit',
    JSON.stringify({ query: '{ orders { edges { node { user { orders { edges { node { user { name } } } } } } } } }' }),
    400,
    'GRAPHQL_VALIDATION_FAILED',
  ],
  ['a document with too many tokens', JSON.stringify({ query: `{ ${'me { id } '.repeat(600)} }` }), 400, 'GRAPHQL_PARSE_FAILED'],
] as const;

it.each(
  BAD_REQUESTS.map(([label, body, status, code]) => ({ label, body, status, code })),
)('answers $label with status $status and code $code', async ({ body, status, code }) => {
  const response = await post(body);
  expect(response.status).toBe(status);
  expect(codeOf(response.json)).toBe(code);
  expect(response.text).not.toMatch(/stacktrace|\s+at .+\.(ts|js):\d+/);
});

// A GraphQL-over-HTTP client accepts only application/graphql-response+json: every error answer
// is of that type, whether Apollo or the gateway in front of it (body parsing, size limits,
// persisted queries) refused the request.
it.each<[label: string, body: string, contentType: string]>([
  ...BAD_REQUESTS.map(([label, body]): [string, string, string] => [label, body, 'application/json']),
  ['an empty body', '', 'application/json'],
  ['a query that is not a string', JSON.stringify({ query: 1 }), 'application/json'],
  ['a persisted query hash of the wrong shape', JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } }), 'application/json'],
  ['an unsupported content type', '{ me { id } }', 'text/xml'],
  ['a body over the size limit', JSON.stringify({ query: `{ me { id } } #${'x'.repeat(1_100_000)}` }), 'application/json'],
])('answers %s as application/graphql-response+json to a client that accepts only that', async (_label, body, contentType) => {
  const accepting = { 'content-type': contentType, accept: 'application/graphql-response+json' };
  const response = await post(body, accepting);
  expect(response.status).toBeGreaterThanOrEqual(400);
  expect(response.type).toBe('application/graphql-response+json; charset=utf-8');
  expect(codeOf(response.json)).toEqual(expect.any(String));
  // Without an Accept header the same refusal is plain JSON.
  expect((await post(body, { 'content-type': contentType })).type).toBe('application/json; charset=utf-8');
});

it('answers an unsupported content type with 415 and a GraphQL error body', async () => {
  const response = await post('query { me { id } }', { 'content-type': 'text/xml' });
  expect(response.status).toBe(415);
  expect(codeOf(response.json)).toBe('BAD_REQUEST');
});

it('answers a body over the size limit with 413', async () => {
  const response = await post(JSON.stringify({ query: `{ me { id } } #${'x'.repeat(1_100_000)}` }));
  expect(response.status).toBe(413);
  expect(codeOf(response.json)).toBe('BAD_REQUEST');
});

it.each([
  ['an unknown token', 'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ['a token of the wrong shape', 'Bearer not-a-token'],
  ['a scheme other than Bearer', 'Basic dXNlcjpwYXNz'],
])('answers %s with 401 UNAUTHENTICATED', async (_label, authorization) => {
  const response = await post(JSON.stringify({ query: '{ product(id: "1") { sku } }' }), {
    'content-type': 'application/json',
    authorization,
  });
  expect(response.status).toBe(401);
  expect(codeOf(response.json)).toBe('UNAUTHENTICATED');
  expect(response.json.errors![0]!.message).toMatch(/log in again|Bearer/);
});

it('masks internal failures in production: no message, no stack, a request id to report', async () => {
  // Break the database under the running server: the next SQL statement fails for real.
  const broken = await startTestGateway({ env: { NODE_ENV: 'production' } });
  try {
    await broken.database.close();
    const response = await fetch(broken.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-12345' },
      body: JSON.stringify({ query: '{ products { edges { cursor } } }' }),
    });
    const text = await response.text();
    expect(response.headers.get('x-request-id')).toBe('req-12345');
    expect(JSON.parse(text).errors).toEqual([
      { message: 'Internal server error', locations: [{ line: 1, column: 3 }], path: ['products'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ]);
    expect(text).not.toMatch(/closed|PGlite|select|stack/i);
  } finally {
    await broken.stop().catch(() => undefined);
  }
});

it('keeps serving after all of the above', async () => {
  const response = await gateway.graphql<{ products: { edges: unknown[] } }>('{ products(first: 3) { edges { cursor } } }');
  expect(response.status).toBe(200);
  expect(response.body.data!.products.edges).toHaveLength(3);
});

it('reports health and readiness', async () => {
  const base = gateway.url.replace(/\/graphql$/, '');
  const health = await fetch(`${base}/healthz`);
  expect(health.status).toBe(200);
  const ready = await fetch(`${base}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready' });
  expect(await (await fetch(`${operatorBase()}/readyz`)).json()).toEqual({
    status: 'ready',
    checks: { redis: 'ok', database: 'ok' },
    details: { outboxBacklog: 0, isRelayLeader: true },
  });
});

it('reports not ready while Redis is down, and ready again once it is back', async () => {
  const base = gateway.url.replace(/\/graphql$/, '');
  await serverOf(gateway.redis).kill();
  const down = await fetch(`${base}/readyz`);
  expect(down.status).toBe(503);
  expect(await down.json()).toEqual({ status: 'unavailable' });
  const body = (await (await fetch(`${operatorBase()}/readyz`)).json()) as { status: string; checks: Record<string, string> };
  expect(body.status).toBe('unavailable');
  expect(body.checks.redis).toMatch(/^down/);
  expect(body.checks.database).toBe('ok');
  await serverOf(gateway.redis).restart();
  // ioredis reconnects on its own; readiness follows the connection's ready event.
  await new Promise<void>((resolve) => (gateway.app.redis.status === 'ready' ? resolve() : gateway.app.redis.once('ready', () => resolve())));
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
});
