// The graphql-transport-ws protocol as the gateway speaks it, over raw `ws` sockets: the exact close
// code for each protocol violation, ping/pong, the replica's limits (subscriptions per connection,
// connections per replica), the operation limits HTTP applies, and error codes that survive the
// trip over the socket.
import { fileGateway } from '../support/file-gateway';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { openRawSocket, type ProtocolError, type ProtocolMessage, type RawSocket } from '../support/raw-websocket';
import { mutate } from '../support/graphql';
import { RESTOCK_PRODUCT } from '../support/documents';
import { streamTail, streamTailOf } from '../support/streams';


const PRODUCT_CHANGED = 'subscription ($id: ID!, $after: String) { productChanged(id: $id, after: $after) { cursor type product { id stock } } }';
const DEEP_QUERY = '{ orders { edges { node { user { orders { edges { node { user { name } } } } } } } } }';
const MAX_SUBSCRIPTIONS = 2;
/** A short connection_init timeout, so the test of it need not wait the default 3 s. */
const INIT_TIMEOUT_MS = 200;

type ProductEvent = { data: { productChanged: { cursor: string; type: string; product: { id: string; stock: number } } } };

// Its own redis-server whatever the topology: a test kills every pub/sub client of it.
const file = fileGateway({
  env: { GRAPHQL_MAX_DEPTH: '6', WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(MAX_SUBSCRIPTIONS) },
  seed: { users: 10, products: 20, orders: 10 },
  ownRedisServer: true,
});

async function open(target: TestGateway = file.gateway): Promise<RawSocket> {
  const socket = await openRawSocket(target.wsUrl);
  file.keep(socket);
  return socket;
}

const restock = async (productId: number): Promise<number> =>
  (await mutate<{ restockProduct: { stock: number } }>(file.gateway, RESTOCK_PRODUCT, { id: String(productId), quantity: 1 }, file.adminToken)).restockProduct.stock;

const subscribeToProduct = (socket: RawSocket, id: string, productId: number, after: string) =>
  socket.send({ id, type: 'subscribe', payload: { query: PRODUCT_CHANGED, variables: { id: String(productId), after } } });

const isReply = (id: string, type: string) => (message: ProtocolMessage) => message.id === id && message.type === type;

/** The socket is open and serving: a ping is answered. */
async function expectServing(socket: RawSocket, marker: string): Promise<void> {
  socket.send({ type: 'ping', payload: { marker } });
  const pong = await socket.waitForMessage((message) => message.type === 'pong' && (message.payload as { marker?: string })?.marker === marker, `pong ${marker}`);
  expect(pong).toEqual({ type: 'pong', payload: { marker } });
}

describe('protocol violations close the socket with the code graphql-transport-ws assigns', () => {
  describe(`with WS_INIT_TIMEOUT_MS=${INIT_TIMEOUT_MS}`, () => {
    let quick: TestGateway;

    beforeAll(async () => {
      quick = await startTestGateway({ env: { WS_INIT_TIMEOUT_MS: String(INIT_TIMEOUT_MS) }, seed: { users: 1, products: 1, orders: 0 } });
    });

    afterAll(async () => {
      await quick?.stop();
    });

    it('closes with 4408 when connection_init does not arrive within the init timeout', async () => {
      const socket = await open(quick);
      const openedAt = Date.now();
      expect(await socket.waitForClose(10_000)).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
      // Closed by the timer, not at once (the server started it slightly before our 'open').
      expect(Date.now() - openedAt).toBeGreaterThanOrEqual(INIT_TIMEOUT_MS / 2);
      expect(socket.messages).toEqual([]);
    });
  });

  it.each([
    ['a message that is not JSON', '{ this is not json'],
    ['a message of an unknown type', JSON.stringify({ type: 'nonsense' })],
  ])('closes with 4400 for %s', async (_name, frame) => {
    const socket = await open();
    await socket.init();
    socket.send(frame);
    expect(await socket.waitForClose()).toEqual({ code: 4400, reason: 'Invalid message received' });
  });

  it('closes with 4403 for connection_init with a token that is no session', async () => {
    const socket = await open();
    socket.send({ type: 'connection_init', payload: { authorization: 'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(await socket.waitForClose()).toEqual({ code: 4403, reason: 'Forbidden' });
    expect(socket.messages).toEqual([]);
  });

  it('closes with 4429 for a second connection_init', async () => {
    const socket = await open();
    await socket.init({ authorization: `Bearer ${file.adminToken}` });
    socket.send({ type: 'connection_init' });
    expect(await socket.waitForClose()).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
  });

  it('closes with 4401 for a subscribe before connection_ack', async () => {
    const socket = await open();
    socket.send({ id: '1', type: 'subscribe', payload: { query: '{ product(id: "1") { sku } }' } });
    expect(await socket.waitForClose()).toEqual({ code: 4401, reason: 'Unauthorized' });
    expect(socket.messages).toEqual([]);
  });

  it('closes with 4409 for a subscribe whose id is already running', async () => {
    const socket = await open();
    await socket.init();
    const after = await streamTailOf(file.gateway.redis, 'catalog');
    subscribeToProduct(socket, 'same', 1, after);
    subscribeToProduct(socket, 'same', 2, after);
    expect(await socket.waitForClose()).toEqual({ code: 4409, reason: 'Subscriber for same already exists' });
  });
});

it('answers ping with pong, echoing the payload, before and after connection_init', async () => {
  const socket = await open();
  socket.send({ type: 'ping' });
  expect(await socket.waitForMessage((message) => message.type === 'pong', 'pong')).toEqual({ type: 'pong' });
  await socket.init();
  await expectServing(socket, 'after-init');
});

it(`answers a subscription beyond ${MAX_SUBSCRIPTIONS} per connection with TOO_MANY_SUBSCRIPTIONS, keeps the others running, and frees a slot on complete`, async () => {
  const socket = await open();
  await socket.init();
  const after = await streamTailOf(file.gateway.redis, 'catalog');
  subscribeToProduct(socket, 'first', 1, after);
  subscribeToProduct(socket, 'second', 2, after);
  subscribeToProduct(socket, 'third', 3, after);

  const rejected = await socket.waitForMessage(isReply('third', 'error'), 'the error for "third"');
  const [error] = rejected.payload as [ProtocolError];
  expect(rejected.payload).toHaveLength(1);
  expect(error.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
  expect(error.message).toMatch(`at most ${MAX_SUBSCRIPTIONS} operations`);

  // The two admitted subscriptions still get their events.
  const firstStock = await restock(1);
  const [firstEvent] = await socket.waitForNext<ProductEvent>('first', 1);
  expect(firstEvent!.data.productChanged.product).toEqual({ id: '1', stock: firstStock });
  const secondStock = await restock(2);
  const [secondEvent] = await socket.waitForNext<ProductEvent>('second', 1);
  expect(secondEvent!.data.productChanged.product).toEqual({ id: '2', stock: secondStock });

  // Completing one frees its slot: a new subscription (to the same product) is admitted and gets
  // the next event, which the completed one does not get...
  socket.send({ id: 'first', type: 'complete' });
  subscribeToProduct(socket, 'fourth', 1, firstEvent!.data.productChanged.cursor);
  const fourthStock = await restock(1);
  const [fourthEvent] = await socket.waitForNext<ProductEvent>('fourth', 1);
  expect(fourthEvent!.data.productChanged.product).toEqual({ id: '1', stock: fourthStock });
  // ...while the limit still holds for the two now running.
  subscribeToProduct(socket, 'fifth', 4, after);
  const rejectedAgain = await socket.waitForMessage(isReply('fifth', 'error'), 'the error for "fifth"');
  expect((rejectedAgain.payload as ProtocolError[]).map((each) => each.extensions?.code)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);

  await restock(2);
  await socket.waitForNext('second', 2);
  expect(socket.messages.filter((message) => message.type === 'next').map((message) => message.id)).toEqual(['first', 'second', 'fourth', 'second']);
  await expectServing(socket, 'after-limits');
  await socket.dispose();
});

// The same documents over HTTP and over the socket: neither is the cheaper way in, and a client
// handles one set of codes.
describe.each([
  ['deeper than GRAPHQL_MAX_DEPTH', DEEP_QUERY, /depth limit of 6/],
  ['with more aliases than GRAPHQL_MAX_ALIASES', `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: product(id: "1") { sku }`).join(' ')} }`, /aliases/i],
  ['with more tokens than GRAPHQL_MAX_TOKENS', `{ ${'__typename '.repeat(2_001)}}`, /2000 tokens/],
  ['that is not GraphQL', '{ products { ', /Syntax Error/],
])('an operation %s', (_name, query, expectedMessage) => {
  let httpError: ProtocolError;
  let wsErrors: ProtocolError[];

  beforeAll(async () => {
    const overHttp = await file.gateway.graphql(query, { token: file.adminToken });
    expect({ status: overHttp.status, errorCount: overHttp.body.errors?.length }).toEqual({ status: 400, errorCount: 1 });
    httpError = overHttp.body.errors![0]!;

    const socket = await open();
    await socket.init({ authorization: `Bearer ${file.adminToken}` });
    socket.send({ id: 'rejected', type: 'subscribe', payload: { query } });
    wsErrors = (await socket.waitForMessage(isReply('rejected', 'error'), 'the error for "rejected"')).payload as ProtocolError[];
    await expectServing(socket, 'after-rejection');
    await socket.dispose();
  });

  it('is rejected over the socket, which stays open', () => {
    expect(wsErrors.map((error) => error.message)).toEqual([expect.stringMatching(expectedMessage)]);
  });

  it('gets the same message and extensions.code over the socket as over HTTP', () => {
    expect(httpError.message).toMatch(expectedMessage);
    expect(wsErrors.map(({ message, extensions }) => ({ message, code: extensions?.code }))).toEqual([
      { message: httpError.message, code: httpError.extensions?.code },
    ]);
  });
});

it('ends a running subscription with an error message carrying CURSOR_EXPIRED (not INTERNAL_SERVER_ERROR) when its catch-up finds the events trimmed', async () => {
  const socket = await open();
  await socket.init();
  subscribeToProduct(socket, 'live', 7, await streamTailOf(file.gateway.redis, 'catalog'));
  const stock = await restock(7);
  const [seen] = await socket.waitForNext<ProductEvent>('live', 1);
  expect(seen!.data.productChanged.product).toEqual({ id: '7', stock });

  // Two events the feed never sees live (another product's channel); the older one is trimmed
  // away, so replaying after the last event the feed saw would skip it.
  await restock(8);
  await restock(8);
  const kept = await streamTail(file.redis, file.gateway.redis.keys.stream('catalog'));
  expect(await file.redis.xtrim(file.gateway.redis.keys.stream('catalog'), 'MINID', kept)).toBeGreaterThan(0);
  // The replica's pub/sub connection drops; once it is back, every feed replays what it may have missed.
  await file.redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub');

  const failed = await socket.waitForMessage(isReply('live', 'error'), 'the error for "live"');
  expect((failed.payload as ProtocolError[]).map((error) => error.extensions?.code)).toEqual(['CURSOR_EXPIRED']);

  // Resuming from that cursor is refused the same way, as the subscription's result.
  subscribeToProduct(socket, 'resume', 7, seen!.data.productChanged.cursor);
  await socket.waitForMessage(isReply('resume', 'complete'), 'complete for "resume"');
  const [result] = await socket.waitForNext<{ errors: ProtocolError[] }>('resume', 1);
  expect(result!.errors.map((error) => error.extensions?.code)).toEqual(['CURSOR_EXPIRED']);
  await expectServing(socket, 'after-cursor-expired');
  await socket.dispose();
});

describe('with WS_MAX_CONNECTIONS=3', () => {
  let limited: TestGateway;

  beforeAll(async () => {
    limited = await startTestGateway({ env: { WS_MAX_CONNECTIONS: '3' }, seed: { users: 5, products: 5, orders: 0 } });
  });

  afterAll(async () => {
    await limited?.stop();
  });

  it('closes a 4th socket with 1013 while the first 3 keep working', async () => {
    const admitted = [await open(limited), await open(limited), await open(limited)];
    for (const socket of admitted) await socket.init();

    const extra = await open(limited);
    expect(await extra.waitForClose()).toEqual({ code: 1013, reason: 'Too many connections on this replica; try again later' });
    expect(extra.messages).toEqual([]);

    for (const [index, socket] of admitted.entries()) {
      socket.send({ id: `query-${index}`, type: 'subscribe', payload: { query: '{ product(id: "1") { sku } }' } });
      const [result] = await socket.waitForNext(`query-${index}`, 1);
      expect(result).toEqual({ data: { product: { sku: 'SKU-000001' } } });
      await socket.waitForMessage(isReply(`query-${index}`, 'complete'), `complete for query-${index}`);
    }
  });
});
