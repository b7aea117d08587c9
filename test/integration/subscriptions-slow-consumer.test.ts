// A subscriber that stops reading must not grow the replica's memory: once the kernel's socket
// buffers are full, graphql-ws stops taking events (it awaits each send), they queue in the
// subscriber's feed, and at SUBSCRIPTION_MAX_QUEUED_EVENTS the feed closes that socket with 4100.
// A healthy subscriber of the same product, on its own connection, notices nothing.
import { CloseCode } from '../../src/http/close-codes';
import { fileGateway } from '../support/file-gateway';
import { openRawSocket, type RawSocket } from '../support/raw-websocket';
import { entriesOf, readStream, streamTailOf } from '../support/streams';
import { mutate } from '../support/graphql';
import { RESTOCK_PRODUCT, UPDATE_PRODUCT } from '../support/documents';

const MAX_QUEUED_EVENTS = 20;
/** Far more events than filling the buffers takes (a few dozen); the test fails if this many never close the socket. */
const MAX_EVENTS = 500;
const PRODUCT_ID = '1';
const DESCRIPTION_CHARS = 5_000; // the longest description updateProduct accepts

// Thirty copies of the 5,000-character description make each event about 150 kB, so the socket
// buffers on loopback (a few MB) fill within a few dozen events rather than a thousand.
const DESCRIPTION_COPIES = Array.from({ length: 29 }, (_, i) => `d${i}: description`).join(' ');
const LARGE_PRODUCT_CHANGED = `subscription ($id: ID!, $after: String) {
  productChanged(id: $id, after: $after) { cursor product { id stock description ${DESCRIPTION_COPIES} } }
}`;
const PRODUCT_CHANGED = 'subscription ($id: ID!, $after: String) { productChanged(id: $id, after: $after) { cursor product { id stock } } }';

type ProductEvent = { data: { productChanged: { cursor: string; product: { id: string; stock: number; description?: string } } } };

const file = fileGateway({
  env: { SUBSCRIPTION_MAX_QUEUED_EVENTS: String(MAX_QUEUED_EVENTS) },
  seed: { users: 5, products: 5, orders: 0 },
});

beforeAll(async () => {
  await mutate(file.gateway, UPDATE_PRODUCT, { id: PRODUCT_ID, input: { description: 'slow consumer '.repeat(DESCRIPTION_CHARS).slice(0, DESCRIPTION_CHARS) } }, file.adminToken);
});

async function subscribe(id: string, query: string, after: string): Promise<RawSocket> {
  const socket = await openRawSocket(file.gateway.wsUrl);
  file.keep(socket);
  await socket.init();
  socket.send({ id, type: 'subscribe', payload: { query, variables: { id: PRODUCT_ID, after } } });
  return socket;
}

const restock = async (): Promise<number> =>
  (await mutate<{ restockProduct: { stock: number } }>(file.gateway, RESTOCK_PRODUCT, { id: PRODUCT_ID, quantity: 1 }, file.adminToken)).restockProduct.stock;

async function readMetrics(): Promise<{ queuedEvents: number; slowConsumerCloses: number }> {
  const response = await fetch(new URL('/metrics', file.gateway.url));
  expect(response.status).toBe(200);
  const text = await response.text();
  const value = (name: string): number => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
    if (!line) throw new Error(`/metrics has no ${name}`);
    return Number(line.slice(name.length + 1));
  };
  return {
    queuedEvents: value('streamgate_subscription_queued_events'),
    slowConsumerCloses: value('streamgate_subscription_slow_consumer_closes_total'),
  };
}

const cursorsOf = (payloads: ProductEvent[]) => payloads.map((payload) => payload.data.productChanged.cursor);

it(`closes a subscriber that stops reading with ${CloseCode.SlowConsumer} once ${MAX_QUEUED_EVENTS} events are queued for it, while another subscriber gets every event`, async () => {
  const after = await streamTailOf(file.gateway.redis, 'catalog');
  const slow = await subscribe('slow', LARGE_PRODUCT_CHANGED, after);
  const healthy = await subscribe('healthy', PRODUCT_CHANGED, after);

  // Both are live (their feeds replayed from `after` and passed the first event); then the slow
  // one stops reading from its socket.
  const stocks = [await restock()];
  const [firstLarge] = await slow.waitForNext<ProductEvent>('slow', 1);
  expect(firstLarge!.data.productChanged.product.description).toHaveLength(DESCRIPTION_CHARS);
  await healthy.waitForNext('healthy', 1);
  slow.socket.pause();

  // One event at a time: after each, the healthy subscriber has it (so the slow feed has it too:
  // pub/sub hands a message to every feed of the channel at once) and the metrics are read, while
  // the slow client is stalled and before the gateway has given up on it.
  const queuedReadings: number[] = [];
  let slowConsumerCloses = 0;
  while (slowConsumerCloses === 0) {
    if (stocks.length >= MAX_EVENTS) {
      const lastReadings = queuedReadings.slice(-30).join(',');
      throw new Error(`the slow subscriber was not closed after ${stocks.length} events; the last queued-events readings: ${lastReadings}`);
    }
    stocks.push(await restock());
    await healthy.waitForNext('healthy', stocks.length);
    const metrics = await readMetrics();
    queuedReadings.push(metrics.queuedEvents);
    expect(metrics.queuedEvents).toBeLessThanOrEqual(MAX_QUEUED_EVENTS);
    slowConsumerCloses = metrics.slowConsumerCloses;
  }
  expect(slowConsumerCloses).toBe(1);
  // Right before the close the slow feed held exactly the bound (one more event overflowed it);
  // after it, its queue was gone with it and the healthy feed had taken everything.
  expect(queuedReadings.slice(-2)).toEqual([MAX_QUEUED_EVENTS, 0]);

  // The close frame waits behind the data the client never read: read again to see it.
  slow.socket.resume();
  expect(await slow.waitForClose(20_000)).toEqual({
    code: CloseCode.SlowConsumer,
    reason: `Slow consumer: more than ${MAX_QUEUED_EVENTS} events queued; reconnect and resume`,
  });

  // Every event of the product since `after`, in stream order.
  const streamCursors = entriesOf(await readStream(file.redis, file.gateway.redis.keys.stream('catalog'), after), 'ProductRestocked', PRODUCT_ID).map((entry) => entry.streamId);
  expect(streamCursors).toHaveLength(stocks.length);

  // The healthy subscriber got each exactly once, in order, showing the stock each restock left.
  const healthyPayloads = healthy.messages.filter((message) => message.id === 'healthy' && message.type === 'next').map((message) => message.payload as ProductEvent);
  expect(cursorsOf(healthyPayloads)).toEqual(streamCursors);
  expect(healthyPayloads.map((payload) => payload.data.productChanged.product.stock)).toEqual(stocks);
  expect(healthy.messages.filter((message) => message.type !== 'connection_ack' && message.type !== 'next')).toEqual([]);

  // The slow one got what was sent before it stalled, in order: everything but the queued events
  // and the one that overflowed the queue. No complete or error message: the socket was closed.
  const slowPayloads = slow.messages.filter((message) => message.type !== 'connection_ack') as Array<{ id: string; type: string; payload: ProductEvent }>;
  expect(slowPayloads.every((message) => message.id === 'slow' && message.type === 'next')).toBe(true);
  const slowCursors = cursorsOf(slowPayloads.map((message) => message.payload));
  expect(slowCursors).toEqual(streamCursors.slice(0, streamCursors.length - (MAX_QUEUED_EVENTS + 1)));

  // The gateway still serves queries, and counted exactly one slow consumer.
  const { body } = await file.gateway.graphql<{ product: { stock: number } }>(`{ product(id: "${PRODUCT_ID}") { stock } }`);
  expect(body).toEqual({ data: { product: { stock: stocks.at(-1) } } });
  expect((await readMetrics()).slowConsumerCloses).toBe(1);
});

// What 4100 tells the client to do: reconnect and resume after the last event it got. Such a client
// is always more than SUBSCRIPTION_MAX_QUEUED_EVENTS events behind, so its replay must not count as
// a slow consumer, or it would be closed again on every attempt and never catch up.
it(`lets a subscriber resume from more than ${MAX_QUEUED_EVENTS} events back and replays them all`, async () => {
  const after = await streamTailOf(file.gateway.redis, 'catalog');
  const stocks: number[] = [];
  for (let i = 0; i <= MAX_QUEUED_EVENTS; i += 1) stocks.push(await restock());
  const closesBefore = (await readMetrics()).slowConsumerCloses;

  const resumed = await subscribe('resumed', PRODUCT_CHANGED, after);
  const missed = await resumed.waitForNext<ProductEvent>('resumed', MAX_QUEUED_EVENTS + 1);
  const streamCursors = entriesOf(await readStream(file.redis, file.gateway.redis.keys.stream('catalog'), after), 'ProductRestocked', PRODUCT_ID).map((entry) => entry.streamId);
  expect(cursorsOf(missed)).toEqual(streamCursors);
  expect(streamCursors).toHaveLength(stocks.length);

  // Live again after the replay.
  stocks.push(await restock());
  const all = await resumed.waitForNext<ProductEvent>('resumed', MAX_QUEUED_EVENTS + 2);
  expect(all.at(-1)!.data.productChanged.product.stock).toBe(stocks.at(-1));
  expect((await readMetrics()).slowConsumerCloses).toBe(closesBefore);
});
