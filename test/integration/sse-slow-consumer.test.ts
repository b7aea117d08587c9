// An SSE subscriber that stops reading is cut off like a websocket one: once the kernel's buffers
// are full the stream stops taking events (it waits for each write to drain), they queue in its
// feed, and at SUBSCRIPTION_MAX_QUEUED_EVENTS the stream ends - without `complete`, so the client
// reconnects with Last-Event-ID and the replay gives it exactly what it missed. A healthy SSE
// subscriber of the same product notices nothing.
import type { RedisClient } from '../../src/redis/client';
import { demoAccounts } from '../../src/db/seed';
import { RESTOCK_PRODUCT, UPDATE_PRODUCT } from '../support/documents';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { mutate } from '../support/graphql';
import { openSse, type SseResponse } from '../support/sse-client';
import { readStream, streamTailOf } from '../support/streams';

const MAX_QUEUED_EVENTS = 20;
/** Far more events than filling the buffers takes; the test fails if this many never end the stream. */
const MAX_EVENTS = 500;
const DESCRIPTION_CHARS = 5_000;
// Thirty copies of the 5,000-character description: about 150 kB per event, so loopback buffers fill within dozens.
const DESCRIPTION_COPIES = Array.from({ length: 29 }, (_, i) => `d${i}: description`).join(' ');
const LARGE_PRODUCT_CHANGED = `subscription { productChanged(id: "1") { cursor product { id stock description ${DESCRIPTION_COPIES} } } }`;
const PRODUCT_CHANGED = 'subscription { productChanged(id: "1") { cursor product { stock } } }';

let gateway: TestGateway;
let redis: RedisClient;
let adminToken: string;
const streams: SseResponse[] = [];

beforeAll(async () => {
  gateway = await startTestGateway({ env: { SUBSCRIPTION_MAX_QUEUED_EVENTS: String(MAX_QUEUED_EVENTS) }, seed: { users: 3, products: 3, orders: 0 } });
  redis = gateway.redis.connect();
  const admin = demoAccounts[0]!;
  adminToken = await gateway.login(admin.email, admin.password);
  await mutate(gateway, UPDATE_PRODUCT, { id: '1', input: { description: 'slow consumer '.repeat(DESCRIPTION_CHARS).slice(0, DESCRIPTION_CHARS) } }, adminToken);
});

afterAll(async () => {
  for (const stream of streams) stream.close();
  redis?.disconnect();
  await gateway?.stop();
});

async function open(...args: Parameters<typeof openSse>): Promise<SseResponse> {
  const stream = await openSse(...args);
  streams.push(stream);
  expect(stream.status).toBe(200);
  return stream;
}

const restock = () => mutate(gateway, RESTOCK_PRODUCT, { id: '1', quantity: 1 }, adminToken);

async function slowConsumerCloses(): Promise<number> {
  const text = await (await fetch(new URL('/metrics', gateway.url))).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith('streamgate_subscription_slow_consumer_closes_total '));
  if (!line) throw new Error('/metrics has no streamgate_subscription_slow_consumer_closes_total');
  return Number(line.split(' ')[1]);
}

it(`ends a stream that stops reading once ${MAX_QUEUED_EVENTS} events queue for it, without complete; Last-Event-ID then resumes it exactly`, async () => {
  const start = await streamTailOf(gateway.redis, 'catalog');
  const slow = await open(gateway.url, { query: LARGE_PRODUCT_CHANGED });
  const healthy = await open(gateway.url, { query: PRODUCT_CHANGED });
  let written = 1;
  await restock();
  await slow.waitForNext(1);
  await healthy.waitForNext(1);
  slow.pause();

  while ((await slowConsumerCloses()) === 0) {
    if (written >= MAX_EVENTS) throw new Error(`the slow stream was not ended after ${written} events`);
    await restock();
    written += 1;
    await healthy.waitForNext(written);
  }
  slow.resume();
  await slow.waitForEnd();
  expect(slow.events.some((event) => event.event === 'complete')).toBe(false);
  expect(slow.comments.at(-1)).toMatch(/^Slow consumer: more than 20 events queued; reconnect and resume$/);

  const streamIds = (await readStream(redis, gateway.redis.keys.stream('catalog'), start))
    .filter((entry) => entry.event.aggregate.type === 'Product' && entry.event.aggregate.id === '1')
    .map((entry) => entry.streamId);
  expect(streamIds).toHaveLength(written);
  expect(healthy.events.map((event) => event.id)).toEqual(streamIds);
  // The slow one got a prefix of the stream, in order...
  const received = slow.events.filter((event) => event.event === 'next').map((event) => event.id!);
  expect(received).toEqual(streamIds.slice(0, received.length));
  expect(received.length).toBeLessThan(written);

  // ...and reconnecting as EventSource would (same URL, Last-Event-ID) gives it exactly the rest.
  const resumed = await open(gateway.url, { query: LARGE_PRODUCT_CHANGED, lastEventId: received.at(-1)! });
  const rest = await resumed.waitForNext(written - received.length);
  expect(rest.map((event) => event.id)).toEqual(streamIds.slice(received.length));
});
