// The websocket follows the HTTP rules: with introspection off, `__schema` is refused and no
// "Did you mean …?" hint names a schema member, on both transports; a frame larger than the HTTP
// body limit closes the socket (1009) instead of being read; and resumes far back are bounded per
// socket (RATE_LIMITED with retryAfterSeconds) while a resume within the budget stays exact.
import { fileGateway } from '../support/file-gateway';
import { openRawSocket, type ProtocolError, type RawSocket } from '../support/raw-websocket';
import { RESTOCK_PRODUCT } from '../support/documents';
import { mutate } from '../support/graphql';
import { readStream } from '../support/streams';

const BODY_LIMIT_BYTES = 4096;
const REPLAY_BUDGET = 5;
const PRODUCT = 1;
const INTROSPECTION = '{ __schema { types { name } } }';
const MISSPELLED = '{ product(id: "1") { nme } }';
const PRODUCT_CHANGED = 'subscription ($after: String) { productChanged(id: "1", after: $after) { cursor type product { stock } } }';

const file = fileGateway({
  seed: { users: 3, products: 5, orders: 0 },
  env: {
    GRAPHQL_INTROSPECTION: 'false',
    BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
    SUBSCRIPTION_REPLAY_BUDGET: String(REPLAY_BUDGET),
    SUBSCRIPTION_REPLAY_BUDGET_WINDOW_SECONDS: '3600',
  },
});

async function connected(): Promise<RawSocket> {
  const socket = await openRawSocket(file.gateway.wsUrl);
  file.keep(socket);
  await socket.init();
  return socket;
}

/** The errors operation `id` ended with: an `error` message (refused), or a `next` with errors (failed). */
async function errorsOf(socket: RawSocket, id: string): Promise<ProtocolError[]> {
  const message = await socket.waitForMessage(
    (candidate) => candidate.id === id && (candidate.type === 'error' || (candidate.type === 'next' && 'errors' in (candidate.payload as object))),
    `errors for ${id}`,
  );
  return message.type === 'error' ? (message.payload as ProtocolError[]) : (message.payload as { errors: ProtocolError[] }).errors;
}

describe('with introspection off', () => {
  it('refuses __schema over the websocket, as over HTTP', async () => {
    const { body } = await file.gateway.graphql(INTROSPECTION);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const socket = await connected();
    socket.send({ id: 'i1', type: 'subscribe', payload: { query: INTROSPECTION } });
    const errors = await errorsOf(socket, 'i1');
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors.map((error) => error.extensions?.code))).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect(socket.messages.find((message) => message.id === 'i1')?.type).toBe('error');
  });

  it('drops "Did you mean" hints over HTTP', async () => {
    const { body } = await file.gateway.graphql(MISSPELLED);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors?.[0]?.message).toContain('Cannot query field "nme"');
    expect(body.errors?.[0]?.message).not.toMatch(/did you mean|"name"/i);
  });

  it('drops "Did you mean" hints over the websocket', async () => {
    const socket = await connected();
    socket.send({ id: 'm1', type: 'subscribe', payload: { query: MISSPELLED } });
    const [error] = await errorsOf(socket, 'm1');
    expect(error?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(error?.message).toContain('Cannot query field "nme"');
    expect(error?.message).not.toMatch(/did you mean|"name"/i);
  });

  it('drops hints from variable errors too (enum values)', async () => {
    const { body } = await file.gateway.graphql('query ($status: OrderStatus) { orders(status: $status) { edges { cursor } } }', {
      variables: { status: 'PAIDD' },
      token: file.adminToken,
    });
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).not.toMatch(/did you mean|"PAID"/i);
  });
});

describe('frames larger than the HTTP body limit', () => {
  it('close the socket with 1009 instead of being acknowledged', async () => {
    const socket = await openRawSocket(file.gateway.wsUrl);
    file.keep(socket);
    socket.send({ type: 'connection_init', payload: { padding: 'x'.repeat(BODY_LIMIT_BYTES * 2) } });
    const close = await socket.waitForClose();
    expect(close.code).toBe(1009);
    expect(socket.messages.map((message) => message.type)).not.toContain('connection_ack');
    // Below the limit, served as before.
    const smaller = await openRawSocket(file.gateway.wsUrl);
    file.keep(smaller);
    await smaller.init({ padding: 'x'.repeat(BODY_LIMIT_BYTES / 2) });
  });
});

describe('replays', () => {
  let cursors: string[];

  beforeAll(async () => {
    for (let i = 0; i < REPLAY_BUDGET + 1; i += 1) await mutate(file.gateway, RESTOCK_PRODUCT, { id: String(PRODUCT), quantity: 1 }, file.adminToken);
    cursors = (await readStream(file.redis, file.gateway.redis.keys.stream('catalog'))).map((entry) => entry.streamId);
    expect(cursors.length).toBeGreaterThan(REPLAY_BUDGET);
  });

  it('beyond the per-socket budget are RATE_LIMITED with retryAfterSeconds, not CURSOR_EXPIRED', async () => {
    const socket = await connected();
    socket.send({ id: 'r1', type: 'subscribe', payload: { query: PRODUCT_CHANGED, variables: { after: '0-0' } } });
    const [error] = await errorsOf(socket, 'r1');
    expect(error?.extensions?.code).toBe('RATE_LIMITED');
    expect(error?.extensions?.retryAfterSeconds).toEqual(expect.any(Number));
    expect(error?.extensions?.retryAfterSeconds as number).toBeGreaterThan(0);
    // The budget is spent: the next resume on this socket does not read the stream at all.
    socket.send({ id: 'r2', type: 'subscribe', payload: { query: PRODUCT_CHANGED, variables: { after: cursors.at(-2) } } });
    expect((await errorsOf(socket, 'r2'))[0]?.extensions?.code).toBe('RATE_LIMITED');
    // The socket itself keeps serving operations that replay nothing.
    socket.send({ id: 'live', type: 'subscribe', payload: { query: 'subscription { serverTime }' } });
    const [tick] = await socket.waitForNext<{ data?: { serverTime: string } }>('live', 1);
    expect(tick?.data?.serverTime).toEqual(expect.any(String));

    // Another socket has its own budget, and a resume within it is exact: no gap, no duplicate.
    const after = cursors.at(-3)!;
    const other = await connected();
    other.send({ id: 'ok', type: 'subscribe', payload: { query: PRODUCT_CHANGED, variables: { after } } });
    const events = await other.waitForNext<{ data: { productChanged: { cursor: string } } }>('ok', 2);
    expect(events.map((event) => event.data.productChanged.cursor)).toEqual(cursors.slice(-2));
  });
});
