// Replays are paid from the client's cost budget, not only per socket: a client that spreads resumes
// far back over fresh sockets (each with its own socket budget) still runs out, because every
// replayed entry is taken from the one budget its queries and subscriptions share across replicas.
import type { RedisClient } from '../../src/redis/client';
import { randomUUID } from 'node:crypto';
import { EVENT_VERSION, type DomainEvent } from '../../src/events/event-types';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { openRawSocket, type ProtocolError, type RawSocket } from '../support/raw-websocket';
import { publishEvents } from '../support/streams';

/** Points per client per window; the replayed history alone is this long. */
const COST_BUDGET = 60;
const PRODUCT_CHANGED = 'subscription ($after: String) { productChanged(id: "1", after: $after) { cursor } }';

let gateway: TestGateway;
let redis: RedisClient;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  gateway = await startTestGateway({
    seed: { users: 3, products: 2, orders: 0 },
    // The per-socket budget is no obstacle here: each socket could replay the whole history.
    env: { GRAPHQL_COST_BUDGET: String(COST_BUDGET), GRAPHQL_COST_BUDGET_WINDOW_SECONDS: '3600', SUBSCRIPTION_REPLAY_BUDGET: '100000' },
  });
  redis = gateway.redis.connect();
  // A history of restocks of product 1 as long as the whole budget, written as the relay writes it.
  const restocks: DomainEvent[] = Array.from({ length: COST_BUDGET }, (_, index) => ({
    id: randomUUID(),
    type: 'ProductRestocked',
    version: EVENT_VERSION,
    occurredAt: new Date().toISOString(),
    aggregate: { type: 'Product', id: '1' },
    data: { productId: 1, added: 1, stock: 100 + index, version: 2 + index },
  }));
  await publishEvents(redis, gateway.app.keys.stream('catalog'), restocks);
});

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.dispose()));
  redis?.disconnect();
  await gateway?.stop();
});

async function resumeFromTheStart(id: string): Promise<RawSocket> {
  const socket = await openRawSocket(gateway.wsUrl);
  sockets.push(socket);
  await socket.init();
  socket.send({ id, type: 'subscribe', payload: { query: PRODUCT_CHANGED, variables: { after: '0-0' } } });
  return socket;
}

it('charges every replayed entry to the client: a resume on a fresh socket is refused once they spent the budget', async () => {
  const first = await resumeFromTheStart('first');
  const replayed = await first.waitForNext<{ data: { productChanged: { cursor: string } } }>('first', COST_BUDGET);
  expect(replayed).toHaveLength(COST_BUDGET);

  const second = await resumeFromTheStart('second');
  const refused = await second.waitForMessage(
    (message) => message.id === 'second' && (message.type === 'error' || message.type === 'next'),
    'the second resume answered',
  );
  // Not one replayed event: the client is told to come back later, from the same cursor (refused
  // before execution: an `error`; by the resolver: a `next` carrying only errors).
  const errors = refused.type === 'error' ? (refused.payload as ProtocolError[]) : (refused.payload as { data?: unknown; errors?: ProtocolError[] }).errors;
  expect(refused.type === 'next' ? (refused.payload as { data?: unknown }).data ?? null : null).toBeNull();
  const [error] = errors ?? [];
  expect(error?.extensions?.code).toBe('RATE_LIMITED');
  expect(error?.extensions?.retryAfterSeconds as number).toBeGreaterThan(0);
});

describe('several resumes on one socket at once', () => {
  /** Entries in the stream; every one is read (and charged) by a replay, only the last few are product 1's. */
  const HISTORY = 1200;
  const OF_PRODUCT_1 = 3;
  let concurrent: TestGateway;

  beforeAll(async () => {
    // Room for two whole replays of the history on one socket, not three.
    concurrent = await startTestGateway({ seed: { users: 3, products: 2, orders: 0 }, env: { SUBSCRIPTION_REPLAY_BUDGET: String(2 * HISTORY + 500) } });
    const restocks: DomainEvent[] = Array.from({ length: HISTORY }, (_, index) => {
      const productId = index >= HISTORY - OF_PRODUCT_1 ? 1 : 2;
      return {
        id: randomUUID(),
        type: 'ProductRestocked',
        version: EVENT_VERSION,
        occurredAt: new Date().toISOString(),
        aggregate: { type: 'Product', id: String(productId) },
        data: { productId, added: 1, stock: 100 + index, version: 2 + index },
      };
    });
    const writer = concurrent.redis.connect();
    for (let start = 0; start < HISTORY; start += 500) await publishEvents(writer, concurrent.app.keys.stream('catalog'), restocks.slice(start, start + 500));
    writer.disconnect();
  });

  afterAll(() => concurrent?.stop());

  it('run one after another: the first ones finish whole, only those past the budget are refused', async () => {
    const socket = await openRawSocket(concurrent.wsUrl);
    sockets.push(socket);
    await socket.init();
    const ids = ['a', 'b', 'c'];
    for (const id of ids) socket.send({ id, type: 'subscribe', payload: { query: PRODUCT_CHANGED, variables: { after: '0-0' } } });
    const isRefusal = (message: { type: string; payload?: unknown }) =>
      message.type === 'error' || (message.type === 'next' && 'errors' in (message.payload as object));
    const delivered = (id: string) => socket.messages.filter((message) => message.id === id && message.type === 'next' && !isRefusal(message)).length;
    // Each resume ends one of two ways: refused, or its replay delivered (product 1's events are last).
    const outcomes = await Promise.all(
      ids.map(async (id) => {
        const last = await socket.waitForMessage((message) => message.id === id && (isRefusal(message) || delivered(id) >= OF_PRODUCT_1), `${id} answered`);
        return isRefusal(last) ? 'refused' : `delivered ${delivered(id)}`;
      }),
    );
    // Run together, all three would charge the socket entry by entry (a page of 1,000 at a time) and all run out midway.
    expect(outcomes.sort()).toEqual([`delivered ${OF_PRODUCT_1}`, `delivered ${OF_PRODUCT_1}`, 'refused']);
  });
});
