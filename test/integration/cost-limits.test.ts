// Cost and size of a request, on real gateways: cost counts `first` from variables and defaults
// (HTTP and websocket alike), a per-viewer cost budget is shared by replicas through Redis, and an
// oversized response is replaced by an error instead of being sent.
import { demoAccounts } from '../../src/db/seed';
import { openRawSocket, type ProtocolError } from '../support/raw-websocket';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';

let pair: TwoGateways;
const tokens: Record<string, string> = {};

const BUDGET = 1000;
const MAX_RESPONSE_BYTES = 2048;

beforeAll(async () => {
  pair = await startTwoGateways({
    env: {
      GRAPHQL_COST_BUDGET: String(BUDGET),
      GRAPHQL_COST_BUDGET_WINDOW_SECONDS: '600',
      GRAPHQL_MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
    },
  });
  for (const account of demoAccounts) tokens[account.email.split('@')[0]!] = await pair.a.login(account.email, account.password);
});

afterAll(() => pair?.stop());

/** The request: 30 aliases of a nested page of orders, every `first` from `$n`. */
const NESTED_ALIASES = `query ($n: Int) { ${Array.from(
  { length: 30 },
  (_, index) => `a${index}: orders(first: $n) { edges { node { id user { orders(first: $n) { edges { node { id totalCents } } } } } } }`,
).join(' ')} }`;
const nestedWithDefaults = (first: string) =>
  `{ ${Array.from({ length: 30 }, (_, index) => `a${index}: orders${first} { edges { node { id user { orders${first} { edges { node { id } } } } } } }`).join(' ')} }`;

describe('operation cost', () => {
  it('rejects `first: $n` nesting over HTTP with its computed cost, and counts it in /metrics', async () => {
    const { status, body } = await pair.a.graphql(NESTED_ALIASES, { variables: { n: 100 }, token: tokens.admin });
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', maxCost: 20_000 });
    expect(body.errors![0]!.extensions!.cost).toBeGreaterThan(30 * 100 * 100);

    const metrics = await (await fetch(pair.a.url.replace(/\/graphql$/, '/metrics'))).text();
    expect(metrics).toMatch(/^streamgate_operations_rejected_total\{reason="cost"\} [1-9]/m);
    expect(metrics).toMatch(/^streamgate_operation_cost_count\{outcome="too-costly"\} [1-9]/m);
  });

  it('counts an omitted `first` as the default page size (20)', async () => {
    const omitted = await pair.a.graphql(nestedWithDefaults(''), { token: tokens.admin });
    const explicit = await pair.a.graphql(nestedWithDefaults('(first: 20)'), { token: tokens.admin });
    expect(omitted.status).toBe(400);
    expect(omitted.body.errors![0]!.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED' });
    expect(omitted.body.errors![0]!.extensions!.cost).toBe(explicit.body.errors![0]!.extensions!.cost);
  });

  it('rejects the same operation on the websocket with an error message carrying its cost', async () => {
    const socket = await openRawSocket(pair.b.wsUrl);
    try {
      await socket.init({ authorization: `Bearer ${tokens.admin}` });
      socket.send({ id: 'costly', type: 'subscribe', payload: { query: NESTED_ALIASES, variables: { n: 100 } } });
      const message = await socket.waitForMessage((received) => received.id === 'costly', 'the answer to the costly operation');
      expect(message.type).toBe('error');
      const [error] = message.payload as ProtocolError[];
      expect(error!.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', maxCost: 20_000 });
      expect(error!.extensions!.cost).toBeGreaterThan(30 * 100 * 100);
      expect(socket.messages.some((received) => received.type === 'next')).toBe(false);

      // The connection keeps serving cheaper operations.
      socket.send({ id: 'cheap', type: 'subscribe', payload: { query: '{ me { email } }' } });
      const [result] = await socket.waitForNext<{ data: { me: { email: string } } }>('cheap', 1);
      expect(result!.data.me.email).toBe(demoAccounts[0]!.email);
    } finally {
      await socket.dispose();
    }
  });
});

describe('cost budget', () => {
  // Each row: edges + node + id + name = 4 points; 1 for the connection: 401 for n = 100. Each
  // request differs (n), so none is answered from the response cache, which executes nothing.
  const PAGE = 'query ($n: Int) { products(first: $n) { edges { node { id name } } } }';

  it('is shared by replicas: spent on A, it is RATE_LIMITED on B, with retryAfterSeconds', async () => {
    expect((await pair.a.graphql(PAGE, { variables: { n: 100 } })).status).toBe(200);
    expect((await pair.a.graphql(PAGE, { variables: { n: 99 } })).status).toBe(200);

    const limited = await pair.b.graphql(PAGE, { variables: { n: 98 } });
    expect(limited.status).toBe(429);
    expect(limited.body.errors).toHaveLength(1);
    expect(limited.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    const retryAfterSeconds = limited.body.errors![0]!.extensions!.retryAfterSeconds as number;
    expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(retryAfterSeconds).toBeLessThanOrEqual(600);

    // Another viewer has a budget of its own, and cheap operations of the limited client still fit.
    expect((await pair.b.graphql(PAGE, { variables: { n: 97 }, token: tokens.alice })).status).toBe(200);
    expect((await pair.b.graphql(PAGE, { variables: { n: 1 } })).status).toBe(200);
  });

  it('is spent over the websocket too', async () => {
    const socket = await openRawSocket(pair.b.wsUrl);
    try {
      await socket.init({ authorization: `Bearer ${tokens.alice}` });
      // alice spent 393 above (n = 97): one more page fits, the next does not.
      socket.send({ id: '1', type: 'subscribe', payload: { query: PAGE, variables: { n: 100 } } });
      await socket.waitForNext('1', 1);
      socket.send({ id: '2', type: 'subscribe', payload: { query: PAGE, variables: { n: 99 } } });
      const message = await socket.waitForMessage((received) => received.id === '2', 'the answer to the third page');
      expect(message.type).toBe('error');
      expect((message.payload as ProtocolError[])[0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    } finally {
      await socket.dispose();
    }
  });
});

describe('response size', () => {
  const PRODUCTS = '{ products(first: 100) { edges { node { id name sku description } } } }';

  it('replaces a response over the limit with RESPONSE_TOO_LARGE and sends no large body', async () => {
    const response = await fetch(pair.a.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.bob}` },
      body: JSON.stringify({ query: PRODUCTS }),
    });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(text.length).toBeLessThan(1000);
    const body = JSON.parse(text) as { data?: unknown; errors: Array<{ extensions: Record<string, unknown> }> };
    expect(body.data).toBeUndefined();
    expect(body.errors[0]!.extensions).toMatchObject({ code: 'RESPONSE_TOO_LARGE', maxBytes: MAX_RESPONSE_BYTES });
    expect(body.errors[0]!.extensions.sizeBytes).toBeGreaterThan(MAX_RESPONSE_BYTES);

    const small = await pair.a.graphql('{ products(first: 2) { edges { node { id name } } } }', { token: tokens.bob });
    expect(small.status).toBe(200);
    expect(small.body.data).toBeDefined();
    const metrics = await (await fetch(pair.a.url.replace(/\/graphql$/, '/metrics'))).text();
    expect(metrics).toMatch(/^streamgate_operations_rejected_total\{reason="response_size"\} 1$/m);
  });

  it('replaces a result over the limit on the websocket too, and keeps serving the socket', async () => {
    const socket = await openRawSocket(pair.b.wsUrl);
    try {
      // A viewer of its own: the others' budgets went to the tests above.
      await socket.init({ authorization: `Bearer ${await pair.b.login('user4@example.com', 'password')}` });
      socket.send({ id: 'large', type: 'subscribe', payload: { query: PRODUCTS } });
      const [result] = await socket.waitForNext<{ data?: unknown; errors: ProtocolError[] }>('large', 1);
      expect(result!.data).toBeUndefined();
      expect(result!.errors[0]!.extensions).toMatchObject({ code: 'RESPONSE_TOO_LARGE', maxBytes: MAX_RESPONSE_BYTES });
      expect(JSON.stringify(result).length).toBeLessThan(1000);

      socket.send({ id: 'small', type: 'subscribe', payload: { query: '{ products(first: 2) { edges { node { id } } } }' } });
      const [small] = await socket.waitForNext<{ data: { products: { edges: unknown[] } } }>('small', 1);
      expect(small!.data.products.edges).toHaveLength(2);
    } finally {
      await socket.dispose();
    }
  });
});
