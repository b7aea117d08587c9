// Subscriptions over Server-Sent Events on two replicas sharing one Redis and one database, read
// off the wire as EventSource reads them: every event's `id:` is its stream cursor; a reconnect to
// the OTHER replica with Last-Event-ID gets exactly the stream's events after it (none missed, none
// twice) while writes go on, and the header wins over the URL's stale `after`; an expired or
// malformed Last-Event-ID is refused as `after` would be; an authenticated stream (graphql-sse's
// POST) ends with UNAUTHENTICATED when its session is revoked on the other replica; a stopping
// replica ends its streams without `complete`, so clients reconnect elsewhere.
import type { RedisClient } from '../../src/redis/client';
import { demoAccounts } from '../../src/db/seed';
import { placeOrder, RESTOCK_PRODUCT } from '../support/documents';
import { login, mutate } from '../support/graphql';
import { openSse, refusalOf, type SseResponse } from '../support/sse-client';
import { readStream, streamTailOf, type StreamEntry } from '../support/streams';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';
import { waitUntil } from '../../src/testing/wait';

const [admin, alice] = demoAccounts as [(typeof demoAccounts)[number], (typeof demoAccounts)[number]];
const PRODUCT_CHANGED = 'subscription ($after: String) { productChanged(id: "1", after: $after) { cursor type product { id stock } } }';
const MY_ORDERS = 'subscription { myOrders { cursor type order { id status } } }';

let pair: TwoGateways;
let redis: RedisClient;
let adminToken: string;
const streams: SseResponse[] = [];

beforeAll(async () => {
  // Heartbeats every second, so a test can see one without waiting 15 s.
  pair = await startTwoGateways({ seed: { users: 3, products: 5, orders: 0 }, env: { SSE_HEARTBEAT_SECONDS: '1' } });
  redis = pair.redis.connect();
  adminToken = await login(pair.a, admin.email, admin.password);
});

afterAll(async () => {
  for (const stream of streams) stream.close();
  redis?.disconnect();
  await pair?.stop();
});

async function open(...args: Parameters<typeof openSse>): Promise<SseResponse> {
  const stream = await openSse(...args);
  streams.push(stream);
  return stream;
}

const restock = (quantity = 1) => mutate(pair.a, RESTOCK_PRODUCT, { id: '1', quantity }, adminToken);

/**
 * Product 1's entries in the catalog stream after `afterId` (what a productChanged(id: "1")
 * subscriber may see), once there are at least `count` (the relay may still be publishing).
 */
async function productOneEntriesAfter(afterId: string, count: number): Promise<StreamEntry[]> {
  let entries: StreamEntry[] = [];
  await waitUntil(async () => {
    entries = (await readStream(redis, pair.redis.keys.stream('catalog'), afterId)).filter(
      (entry) => entry.event.aggregate.type === 'Product' && entry.event.aggregate.id === '1',
    );
    return entries.length >= count;
  }, `${count} entries of product 1 after ${afterId}`);
  return entries;
}

const cursorsOf = (stream: SseResponse) => stream.results().map((result) => (result.data?.productChanged as { cursor: string }).cursor);

it('streams each event as `event: next` with its cursor as the `id:` (selected or not), unbuffered, with heartbeats', async () => {
  const stream = await open(pair.a.url, { query: PRODUCT_CHANGED });
  // The `id:` comes from the event itself, not from what the client selected.
  const withoutCursor = await open(pair.a.url, { query: 'subscription { productChanged(id: "1") { type } }' });
  expect(stream.status).toBe(200);
  expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
  expect(stream.headers['cache-control']).toBe('no-cache, no-transform');
  expect(stream.headers['x-accel-buffering']).toBe('no');
  expect(stream.headers['x-request-id']).toBeTruthy();
  const tail = await streamTailOf(pair.redis, 'catalog');
  await restock();
  await restock();
  const events = await stream.waitForNext(2);
  const expected = await productOneEntriesAfter(tail, 2);
  expect(events.map((event) => event.id)).toEqual(expected.map((entry) => entry.streamId));
  expect(cursorsOf(stream)).toEqual(expected.map((entry) => entry.streamId));
  expect((await withoutCursor.waitForNext(2)).map((event) => event.id)).toEqual(expected.map((entry) => entry.streamId));
  expect(await stream.waitForComment(5000)).toBe('');
});

it('resumes on the other replica from Last-Event-ID: exactly the stream after it, while writes go on; the header wins over `after`', async () => {
  const start = await streamTailOf(pair.redis, 'catalog');
  const first = await open(pair.a.url, { query: PRODUCT_CHANGED, variables: { after: start } });
  // Writes run on through the reconnect, so the resume meets both a replay and live events.
  const writes = (async () => {
    for (let i = 0; i < 12; i += 1) await restock();
  })();
  const seen = await first.waitForNext(4);
  first.close();
  const lastEventId = seen[3]!.id!;
  // The URL still carries the first `after` (as EventSource re-sends it); the header is newer.
  const resumed = await open(pair.b.url, { query: PRODUCT_CHANGED, variables: { after: start }, lastEventId });
  expect(resumed.status).toBe(200);
  await writes;
  const expected = await productOneEntriesAfter(lastEventId, 12 - 4);
  expect(expected.length).toBe(12 - 4);
  const events = await resumed.waitForNext(expected.length);
  expect(events.map((event) => event.id)).toEqual(expected.map((entry) => entry.streamId));
  expect(cursorsOf(resumed)).toEqual(expected.map((entry) => entry.streamId));
  // Nothing after them: one more write arrives as the next event, nothing else in between.
  await restock();
  const [latest] = await productOneEntriesAfter(expected.at(-1)!.streamId, 1);
  const withLatest = await resumed.waitForNext(expected.length + 1);
  expect(withLatest.at(-1)!.id).toBe(latest!.streamId);
  expect(withLatest.length).toBe(expected.length + 1);
});

it('answers an expired Last-Event-ID with CURSOR_EXPIRED (410) and a malformed one with BAD_USER_INPUT (400), as `after`', async () => {
  const before = await streamTailOf(pair.redis, 'catalog');
  await restock();
  await restock();
  await redis.xtrim(pair.redis.keys.stream('catalog'), 'MAXLEN', 1);
  const expired = await refusalOf(pair.b.url, { query: PRODUCT_CHANGED, lastEventId: before });
  expect(expired).toMatchObject({ status: 410, codes: ['CURSOR_EXPIRED'] });
  expect(expired.response.headers['content-type']).toMatch(/^application\/json/);
  const asAfter = await refusalOf(pair.b.url, { query: PRODUCT_CHANGED, variables: { after: before } });
  expect(asAfter).toMatchObject({ status: 410, codes: ['CURSOR_EXPIRED'] });
  const malformed = await refusalOf(pair.b.url, { query: PRODUCT_CHANGED, lastEventId: 'yesterday' });
  expect(malformed).toMatchObject({ status: 400, codes: ['BAD_USER_INPUT'] });
});

it("streams a viewer's own events over POST with Authorization, and ends with UNAUTHENTICATED when the session is revoked on the other replica", async () => {
  const token = await login(pair.a, alice.email, alice.password);
  const stream = await open(pair.b.url, { query: MY_ORDERS, method: 'POST', token });
  expect(stream.status).toBe(200);
  await mutate(pair.a, RESTOCK_PRODUCT, { id: '2', quantity: 10 }, adminToken); // seeded stock may be 0
  const placed = await placeOrder(pair.a, token, [{ productId: '2', quantity: 1 }]);
  const orderId = (placed.body.data!.placeOrder as { id: string }).id;
  const [event] = await stream.waitForNext(1);
  const order = stream.results()[0]!.data!.myOrders as { cursor: string; type: string; order: { id: string } };
  expect(order).toMatchObject({ type: 'ORDER_PLACED', order: { id: orderId } });
  expect(event!.id).toBe(order.cursor);

  expect(await mutate<{ logout: boolean }>(pair.a, 'mutation { logout }', {}, token)).toEqual({ logout: true });
  await stream.waitForEnd();
  const last = stream.results().at(-1)!;
  expect(last.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  expect(stream.events.at(-1)!.event).toBe('complete');
});

it('ends open streams without `complete` when the replica stops (clients reconnect elsewhere), and stopping does not wait on them', async () => {
  const stream = await open(pair.b.url, { query: PRODUCT_CHANGED });
  expect(stream.status).toBe(200);
  await pair.b.stop();
  await stream.waitForEnd();
  expect(stream.events.some((event) => event.event === 'complete')).toBe(false);
  expect(stream.comments.at(-1)).toMatch(/shutting down/);
  // The other replica still serves the same URL.
  const elsewhere = await open(pair.a.url, { query: PRODUCT_CHANGED });
  expect(elsewhere.status).toBe(200);
});
