// SSE follows the websocket's rules, checked side by side on one gateway with tight limits: the same
// document gets the same extensions.code over both (parse, validation, depth, cost, introspection
// off, no session for a private field, a malformed argument); refusals come before any stream, as
// GraphQL JSON with a status (EventSource then stops instead of reconnecting to the same refusal);
// what only HTTP has (a body over the limit, queries and mutations, malformed parameters) is
// answered as HTTP answers it; and a replica full of websockets and SSE streams together refuses
// both kinds (503 / 1013).
import { fileGateway } from '../support/file-gateway';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { openRawSocket, type ProtocolError } from '../support/raw-websocket';
import { openSse, refusalOf, type SseResponse } from '../support/sse-client';
import { waitUntil } from '../../src/testing/wait';

const BODY_LIMIT_BYTES = 4096;
const MAX_COST = 100;
const MAX_DEPTH = 7;

/** Each refused document, with the code both transports must answer. */
const REFUSED: Array<{ name: string; query: string; variables?: Record<string, unknown>; code: string; status: number; message?: RegExp }> = [
  { name: 'a syntax error', query: 'subscription { productChanged(id: "1") {', code: 'GRAPHQL_PARSE_FAILED', status: 400 },
  { name: 'too many tokens', query: `subscription { productChanged(id: "1") { ${'cursor '.repeat(200)}} }`, code: 'GRAPHQL_PARSE_FAILED', status: 400 },
  { name: 'an unknown field', query: 'subscription { productChanged(id: "1") { nope } }', code: 'GRAPHQL_VALIDATION_FAILED', status: 400 },
  {
    name: 'too deep',
    query: 'subscription { myOrders { order { user { orders { edges { node { user { id } } } } } } } }',
    code: 'GRAPHQL_VALIDATION_FAILED',
    status: 400,
    message: /depth/i,
  },
  {
    name: 'too costly',
    query: 'subscription ($n: Int) { myOrders { order { user { orders(first: $n) { pageInfo { hasNextPage } } } } } }',
    variables: { n: 100 },
    code: 'GRAPHQL_VALIDATION_FAILED',
    status: 400,
    message: /cost .* exceeds the maximum of 100/,
  },
  { name: 'no session for a private field', query: 'subscription { myOrders { cursor } }', code: 'UNAUTHENTICATED', status: 401 },
  { name: 'a malformed id', query: 'subscription { productChanged(id: "x") { cursor } }', code: 'BAD_USER_INPUT', status: 400 },
  { name: 'an unknown product', query: 'subscription { productChanged(id: "999999") { cursor } }', code: 'NOT_FOUND', status: 404 },
];

const file = fileGateway({
  seed: { users: 3, products: 5, orders: 0 },
  env: {
    GRAPHQL_INTROSPECTION: 'false',
    BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
    GRAPHQL_MAX_COST: String(MAX_COST),
    GRAPHQL_MAX_DEPTH: String(MAX_DEPTH),
    GRAPHQL_MAX_TOKENS: '150',
  },
});

async function websocketCodesOf(query: string, variables?: Record<string, unknown>): Promise<Array<string | undefined>> {
  const socket = await openRawSocket(file.gateway.wsUrl);
  file.keep(socket);
  await socket.init();
  socket.send({ id: 's1', type: 'subscribe', payload: { query, variables } });
  const message = await socket.waitForMessage(
    (candidate) => candidate.id === 's1' && (candidate.type === 'error' || (candidate.type === 'next' && 'errors' in (candidate.payload as object))),
    'the refusal',
  );
  const errors = message.type === 'error' ? (message.payload as ProtocolError[]) : (message.payload as { errors: ProtocolError[] }).errors;
  return errors.map((error) => error.extensions?.code);
}

describe.each(REFUSED)('$name', ({ query, variables, code, status, message }) => {
  it(`is ${code} over SSE (GET and POST) as over the websocket`, async () => {
    const codes = [...new Set(await websocketCodesOf(query, variables))];
    expect(codes).toEqual([code]);
    for (const method of ['GET', 'POST'] as const) {
      const refused = await refusalOf(file.gateway.url, { query, variables, method });
      expect({ method, status: refused.status, codes: [...new Set(refused.codes)] }).toEqual({ method, status, codes });
      expect(refused.response.headers['content-type']).toMatch(/^application\/json/);
      if (message) expect(refused.response.body?.errors[0]?.message).toMatch(message);
    }
  });
});

it('never shows a stack trace or a "Did you mean" hint in a refusal', async () => {
  const refused = await refusalOf(file.gateway.url, { query: 'subscription { productChanged(id: "1") { stok } }' });
  expect(refused.codes).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  expect(JSON.stringify(refused.response.body)).not.toMatch(/did you mean|"stock"|stacktrace/i);
});

it('refuses a bad token with 401 UNAUTHENTICATED (the websocket closes with 4403)', async () => {
  const refused = await refusalOf(file.gateway.url, { query: 'subscription { myOrders { cursor } }', token: 'not-a-session' });
  expect(refused).toMatchObject({ status: 401, codes: ['UNAUTHENTICATED'] });
  const socket = await openRawSocket(file.gateway.wsUrl);
  file.keep(socket);
  socket.send({ type: 'connection_init', payload: { authorization: 'Bearer not-a-session' } });
  expect((await socket.waitForClose()).code).toBe(4403);
});

it('runs only subscriptions: a query or mutation is BAD_REQUEST, pointing at plain HTTP', async () => {
  for (const query of ['{ product(id: "1") { id } }', 'mutation { logout }']) {
    const refused = await refusalOf(file.gateway.url, { query, method: 'POST' });
    expect(refused).toMatchObject({ status: 400, codes: ['BAD_REQUEST'] });
    expect(refused.response.body?.errors[0]?.message).toMatch(/plain HTTP/);
  }
});

it('answers malformed requests as HTTP does: no query, variables that are no JSON, a body over the limit', async () => {
  expect(await refusalOf(file.gateway.url, { query: '' })).toMatchObject({ status: 400, codes: ['BAD_REQUEST'] });
  const response = await fetch(`${file.gateway.url}?query=${encodeURIComponent('subscription { serverTime }')}&variables=%7Bnope`, { headers: { accept: 'text/event-stream' } });
  expect(response.status).toBe(400);
  expect(((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('BAD_REQUEST');
  const oversized = await refusalOf(file.gateway.url, { query: `subscription { serverTime } # ${'x'.repeat(BODY_LIMIT_BYTES * 2)}`, method: 'POST' });
  expect(oversized).toMatchObject({ status: 413, codes: ['BAD_REQUEST'] });
});

it('leaves requests that prefer JSON to Apollo: a subscription there is still refused as before', async () => {
  const { status, body } = await file.gateway.graphql('subscription { serverTime }');
  expect(status).toBe(400);
  expect(body.errors?.[0]?.message).toMatch(/websocket/);
});

describe('a replica full of long-lived connections', () => {
  let small: TestGateway;

  beforeAll(async () => {
    // Two connections in all, websockets and SSE streams together.
    small = await startTestGateway({ redis: file.gateway.redis, seed: { users: 1, products: 2, orders: 0 }, env: { WS_MAX_CONNECTIONS: '2' } });
  });

  afterAll(async () => {
    await small?.stop();
  });

  it('refuses a third SSE stream with 503 and Retry-After, and a websocket with 1013, until one leaves', async () => {
    const stream = await openSse(small.url, { query: 'subscription { serverTime }' });
    file.keep(stream);
    await stream.waitForNext(1);
    const socket = await openRawSocket(small.wsUrl);
    file.keep(socket);
    await socket.init();

    const refused = await refusalOf(small.url, { query: 'subscription { serverTime }' });
    expect(refused).toMatchObject({ status: 503, codes: ['SERVICE_UNAVAILABLE'] });
    expect(refused.response.headers['retry-after']).toBe('5');
    const extraSocket = await openRawSocket(small.wsUrl);
    file.keep(extraSocket);
    expect((await extraSocket.waitForClose()).code).toBe(1013);

    stream.close();
    // The server hears of the hang-up on its own time, announced to no one: poll until a new stream is admitted.
    let admitted: SseResponse | undefined;
    await waitUntil(async () => {
      admitted = await openSse(small.url, { query: 'subscription { serverTime }' });
      file.keep(admitted);
      if (admitted.status === 200) return true;
      await admitted.waitForEnd();
      return false;
    }, 'the replica admits a stream again');
    await admitted!.waitForNext(1);
  });
});
