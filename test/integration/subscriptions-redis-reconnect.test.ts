// Subscriptions across a lost pub/sub connection: `CLIENT KILL TYPE pubsub` in the middle of a
// publish loop (ioredis resubscribes by itself; every subscriber still gets every event, in order,
// once, without its websocket noticing), and a Redis restart with persistence (mutations commit
// while Redis is down, the outbox publishes them once it is back, and subscribers end with exactly
// the events the stream holds). A plain ioredis subscriber killed alongside shows what pub/sub
// alone loses; the gateway's replay from its streams is what fills the gap.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { createClient, type Client } from 'graphql-ws';
import type { RedisClient, RedisSubscriber } from '../../src/redis/client';
import WebSocket from 'ws';
import { outbox } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import { startTestGateway, type TestGateway } from '../support/gateway';
import type { RedisServerHandle } from '../../src/testing/redis-server';
import { startOwnRedisServer, type TestRedis } from '../../src/testing/redis-topology';
import { startSubscriber, type ReceivedEvent, type TestSubscriber } from '../support/subscriber';
import { subscribeResumable, type ResumableSubscription, type SubscriptionError } from '../../examples/client/resumable-subscription';
import { mutate } from '../support/graphql';
import { placeOrder, RESTOCK_PRODUCT } from '../support/documents';
import { readStream, type StreamEntry, streamTail, streamTailOf } from '../support/streams';
import { compareStreamIds } from '../../src/subscriptions/stream-ids';
import { waitUntil } from '../../src/testing/wait';

const [admin, alice] = demoAccounts as [(typeof demoAccounts)[0], (typeof demoAccounts)[0]];
const ALICE_ID = 2;
const PRODUCT_ID = 1;

const PRODUCT_CHANGED = 'subscription ($id: ID!, $after: String) { productChanged(id: $id, after: $after) { cursor type product { id stock } } }';
const MY_ORDERS = 'subscription ($after: String) { myOrders(after: $after) { cursor type order { id status } } }';
const ORDER_EVENTS = 'subscription ($after: String) { orderEvents(after: $after) { cursor type order { id status } } }';

/** Bounds on waiting for something to happen, not speed targets. */
const EVENT_BOUND_MS = 15_000;
const RECONNECT_BOUND_MS = 10_000;
/** The relay backs off up to 5 s between attempts while Redis is down. */
const DRAIN_BOUND_MS = 20_000;
/** A mutation whose "published" announcement was lost with the pub/sub connection returns after this. */
const PUBLISH_WAIT_MS = '100';

/**
 * A subscription seen exactly as the server sends it: no retries, and none of the cursor
 * de-duplication the resumable client does, so a duplicate or a reordering would show here.
 */
interface RawSubscription {
  cursors: string[];
  errors: unknown[];
  closes: Array<{ code: number; reason: string }>;
  dispose(): Promise<void>;
}

function subscribeRaw(wsUrl: string, query: string, field: string, variables: Record<string, unknown>, token?: string): RawSubscription {
  const cursors: string[] = [];
  const errors: unknown[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    on: { closed: (event) => void closes.push({ code: (event as { code: number }).code, reason: String((event as { reason: string }).reason) }) },
  });
  const unsubscribe = client.subscribe<Record<string, { cursor: string }>>(
    { query, variables },
    {
      next: (result) => (result.errors ? errors.push(...result.errors) : cursors.push(result.data![field]!.cursor)),
      error: (error) => void errors.push(error),
      complete: () => undefined,
    },
  );
  return {
    cursors,
    errors,
    closes,
    async dispose() {
      unsubscribe();
      await client.dispose();
    },
  };
}

/**
 * A client app's subscription across an outage: graphql-ws retries its socket and the resumable
 * helper resumes from its cursor; a re-subscription refused with SERVICE_UNAVAILABLE (Redis down
 * when it arrived) is sent again from the same cursor by the helper itself. Other errors end it.
 */
interface ResumingSubscription {
  client: Client;
  events: ReceivedEvent[];
  errors: SubscriptionError[];
  /** SERVICE_UNAVAILABLE refusals the server sent (the helper subscribes again from its cursor). */
  refusals: SubscriptionError[];
  closes: Array<{ code: number; reason: string }>;
  dispose(): Promise<void>;
}

function subscribeResuming(wsUrl: string, query: string, field: string, variables: Record<string, unknown>, after: string): ResumingSubscription {
  const events: ReceivedEvent[] = [];
  const errors: SubscriptionError[] = [];
  const refusals: SubscriptionError[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 1000,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
    shouldRetry: () => true,
    on: {
      closed: (event) => void closes.push({ code: (event as { code: number }).code, reason: String((event as { reason: string }).reason) }),
      message: (message) => {
        if (message.type !== 'next') return;
        const refused = (message.payload.errors ?? []).filter((error) => error.extensions?.code === 'SERVICE_UNAVAILABLE');
        refusals.push(...(refused as SubscriptionError[]));
      },
    },
  });
  const subscription: ResumableSubscription = subscribeResumable<ReceivedEvent>(client, {
    query,
    field,
    variables,
    after,
    onEvent: (event) => void events.push(event),
    onError: (received) => void errors.push(...received),
    maxRetryWaitMs: 500,
  });
  return {
    client,
    events,
    errors,
    refusals,
    closes,
    async dispose() {
      subscription.unsubscribe();
      await client.dispose();
    },
  };
}

type AnySubscription = TestSubscriber | RawSubscription | ResumingSubscription;

/** What a subscriber has received, as cursors; throws (ending any wait) once it failed. */
function cursorsOf(subscriber: AnySubscription): string[] {
  if (subscriber.errors.length) throw new Error(`subscription failed: ${JSON.stringify(subscriber.errors)}`);
  return 'cursors' in subscriber ? subscriber.cursors : subscriber.events.map((event) => event.cursor);
}

function waitForCursor(subscriber: AnySubscription, cursor: string, what: string): Promise<void> {
  return waitUntil(async () => cursorsOf(subscriber).includes(cursor), `${what} received ${cursor}`, EVENT_BOUND_MS);
}

/** Resolves when the connection emits `event` next; rejects after the bound. */
function nextEvent(connection: RedisSubscriber | RedisClient, event: 'close' | 'ready'): Promise<unknown> {
  return once(connection, event, { signal: AbortSignal.timeout(RECONNECT_BOUND_MS) });
}

async function untilReady(connection: RedisSubscriber | RedisClient): Promise<void> {
  if (connection.status !== 'ready') await nextEvent(connection, 'ready');
}

/** Entries of a domain stream after `after` that one aggregate produced. */
const ofAggregate = (entries: StreamEntry[], type: string, id: number) =>
  entries.filter((entry) => entry.event.aggregate.type === type && entry.event.aggregate.id === String(id));

const idsOf = (entries: StreamEntry[]) => entries.map((entry) => entry.streamId);

describe('CLIENT KILL TYPE pubsub during a publish loop', () => {
  const N = 60;
  let gateway: TestGateway;
  let control: RedisClient;
  let plainListener: RedisClient;
  let maxClients: string | undefined;
  const plainCursors: string[] = [];
  const disposables: Array<{ dispose(): Promise<void> }> = [];

  beforeAll(async () => {
    // Its own redis-server whatever the topology: the test kills clients and lowers maxclients.
    gateway = await startTestGateway({ seed: { users: 10, products: 10, orders: 10 }, env: { OUTBOX_PUBLISH_WAIT_MS: PUBLISH_WAIT_MS }, ownRedisServer: true });
    control = gateway.redis.connect();
    plainListener = gateway.redis.connect({ retryStrategy: (attempt) => Math.min(attempt * 100, 2000) });
    plainListener.on('error', () => undefined); // refused reconnects while the test holds pub/sub down
    plainListener.on('message', (_channel: string, message: string) => plainCursors.push((JSON.parse(message) as { cursor: string }).cursor));
    await plainListener.subscribe(gateway.redis.keys.channel('product', PRODUCT_ID));
    maxClients = ((await control.config('GET', 'maxclients')) as string[])[1];
  });

  afterAll(async () => {
    await Promise.all(disposables.map((subscription) => subscription.dispose()));
    if (maxClients) await control?.config('SET', 'maxclients', maxClients);
    plainListener?.disconnect();
    control?.disconnect();
    await gateway?.stop();
  });

  it('delivers every event exactly once, in stream order, over the same websockets, when the subscriber connection is killed twice', async () => {
    const tokens = { admin: await gateway.login(admin.email, admin.password), alice: await gateway.login(alice.email, alice.password) };
    const catalogAfter = await streamTailOf(gateway.redis, 'catalog');
    const ordersAfter = await streamTailOf(gateway.redis, 'orders');
    const watch = <T extends { dispose(): Promise<void> }>(subscription: T): T => (disposables.push(subscription), subscription);
    const resumable = {
      product: watch(startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(PRODUCT_ID) }, after: catalogAfter })),
      myOrders: watch(startSubscriber({ urls: gateway.wsUrl, token: tokens.alice, query: MY_ORDERS, field: 'myOrders', after: ordersAfter })),
    };
    const raw = {
      product: watch(subscribeRaw(gateway.wsUrl, PRODUCT_CHANGED, 'productChanged', { id: String(PRODUCT_ID), after: catalogAfter }, tokens.admin)),
      orderEvents: watch(subscribeRaw(gateway.wsUrl, ORDER_EVENTS, 'orderEvents', { after: ordersAfter }, tokens.admin)),
    };
    const all = [resumable.product, resumable.myOrders, raw.product, raw.orderEvents];
    const subscriber = gateway.app.redisConnections.subscriber;
    let gap: { after: string; until: string } | undefined;
    let release: (() => Promise<void>) | undefined;

    for (let i = 0; i < N; i += 1) {
      if (i === 20) {
        // Every feed is live (it has delivered an event), so the kill hits feeds that are running.
        await Promise.all(all.map((subscription) => waitUntil(async () => cursorsOf(subscription).length > 0, 'every feed is live', EVENT_BOUND_MS)));
        // Killed while the loop goes on: ioredis reconnects after its backoff, racing the publishes.
        expect(await control.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(2);
      }
      if (i === 40) {
        // Killed again, with new connections refused until i === 50: events published meanwhile
        // certainly reach no subscriber through pub/sub.
        await untilReady(subscriber);
        const closed = nextEvent(subscriber, 'close');
        await control.config('SET', 'maxclients', '1');
        expect(await control.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(2);
        await closed;
        gap = { after: await streamTail(control, gateway.redis.keys.stream('catalog')), until: '' };
        release = async () => {
          const ready = nextEvent(subscriber, 'ready');
          await control.config('SET', 'maxclients', maxClients!);
          await ready;
        };
      }
      if (i === 50) {
        gap!.until = await streamTail(control, gateway.redis.keys.stream('catalog'));
        expect(subscriber.status).not.toBe('ready');
        await release!();
      }
      await mutate(gateway, RESTOCK_PRODUCT, { id: String(PRODUCT_ID), quantity: 1 }, tokens.admin);
      if (i % 5 === 0) {
        const placed = await placeOrder(gateway, tokens.alice, [{ productId: '2', quantity: 1 }]);
        expect(placed.body.errors).toBeUndefined();
      }
    }

    const productEntries = ofAggregate(await readStream(control, gateway.redis.keys.stream('catalog'), catalogAfter), 'Product', PRODUCT_ID);
    const orderEntries = await readStream(control, gateway.redis.keys.stream('orders'), ordersAfter);
    expect(productEntries).toHaveLength(N);
    expect(orderEntries).toHaveLength(N / 5);
    const gapEntries = ofAggregate(await readStream(control, gateway.redis.keys.stream('catalog'), gap!.after), 'Product', PRODUCT_ID).filter((entry) => compareStreamIds(entry.streamId, gap!.until) <= 0);
    expect(gapEntries).toHaveLength(10);

    const expected = [
      { subscription: resumable.product, ids: idsOf(productEntries), what: 'productChanged (resumable client)' },
      { subscription: raw.product, ids: idsOf(productEntries), what: 'productChanged (raw)' },
      { subscription: resumable.myOrders, ids: idsOf(orderEntries.filter((entry) => (entry.event.data as { userId: number }).userId === ALICE_ID)), what: 'myOrders' },
      { subscription: raw.orderEvents, ids: idsOf(orderEntries), what: 'orderEvents (raw)' },
    ];
    // Each waits for its last event; one that never comes shows up as a diff below.
    await Promise.allSettled(expected.map(({ subscription, ids, what }) => waitForCursor(subscription, ids.at(-1)!, what)));
    for (const { subscription, ids, what } of expected) {
      expect({ what, cursors: cursorsOf(subscription) }).toEqual({ what, cursors: ids });
      // Nobody had to reconnect and resume: the replica caught up by itself.
      expect({ what, closes: subscription.closes }).toEqual({ what, closes: [] });
    }
    expect(resumable.product.events.every((event) => event.type === 'PRODUCT_RESTOCKED')).toBe(true);

    // ioredis resubscribed the plain listener after each kill, but pub/sub alone lost the gap.
    await waitUntil(async () => plainCursors.includes(productEntries.at(-1)!.streamId), 'the plain listener got the last event', EVENT_BOUND_MS);
    expect(plainCursors.filter((cursor) => idsOf(gapEntries).includes(cursor))).toEqual([]);
  });
});

describe('a Redis restart (AOF, fsync always) during a publish loop', () => {
  const N = 45;
  /** Its own redis-server whatever the topology: the test kills and restarts it, with AOF on. */
  let ownRedis: TestRedis & { server: RedisServerHandle };
  let gateway: TestGateway;
  let dataDir: string;
  let requestCount = 0;
  const subscribers: Array<TestSubscriber | ResumingSubscription> = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'streamgate-aof-'));
    ownRedis = await startOwnRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir] });
    gateway = await startTestGateway({ redis: ownRedis, seed: { users: 10, products: 10, orders: 10 }, env: { OUTBOX_PUBLISH_WAIT_MS: PUBLISH_WAIT_MS } });
  });

  afterAll(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.dispose()));
    await gateway?.stop();
    await ownRedis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Sessions live in Redis: the loop runs as an admin put in the context, as HTTP would after authenticating. */
  async function restockAsAdmin(): Promise<void> {
    requestCount += 1;
    const contextValue = gateway.app.createContext({ viewer: { id: 1, role: 'ADMIN' }, sessionToken: null }, { requestId: `restart-${requestCount}`, clientAddress: '127.0.0.1' });
    const response = await gateway.app.graphql.apollo.executeOperation({ query: RESTOCK_PRODUCT, variables: { id: String(PRODUCT_ID), quantity: 1 } }, { contextValue });
    assert(response.body.kind === 'single');
    expect(response.body.singleResult.errors).toBeUndefined();
  }

  it('ends every subscriber with exactly the events the stream holds, in order, after mutations committed while Redis was down', async () => {
    const token = await gateway.login(admin.email, admin.password);
    const [{ baseline }] = (await gateway.database.db.select({ baseline: sql<number>`coalesce(max(${outbox.id}), 0)::int` }).from(outbox)) as [{ baseline: number }];
    const after = await streamTailOf(ownRedis, 'catalog');
    const subscribe = (options: { token?: string }) => {
      const subscriber = startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(PRODUCT_ID) }, after, ...options });
      subscribers.push(subscriber);
      return subscriber;
    };
    const anonymous = subscribe({});
    const withSession = subscribe({ token });
    const reconnecting = subscribeResuming(gateway.wsUrl, PRODUCT_CHANGED, 'productChanged', { id: String(PRODUCT_ID) }, after);
    subscribers.push(reconnecting);
    const connections = gateway.app.redisConnections;

    for (let i = 0; i < N; i += 1) {
      if (i === 15) {
        await Promise.all(subscribers.map((subscriber) => waitUntil(async () => cursorsOf(subscriber).length > 0, 'every feed is live', EVENT_BOUND_MS)));
        await ownRedis.server.kill();
      }
      if (i === 20) {
        // A client that loses its socket while Redis is down reconnects and resumes from its cursor.
        reconnecting.client.terminate();
      }
      if (i === 30) {
        // Its re-subscription met the outage: refused, not left hanging (then sent again from its cursor).
        await waitUntil(async () => reconnecting.refusals.length > 0, 'the re-subscription during the outage was refused', RECONNECT_BOUND_MS);
        await ownRedis.server.restart();
        await Promise.all([untilReady(connections.subscriber), untilReady(connections.command)]);
      }
      await restockAsAdmin();
    }
    await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the relay drained the outbox', DRAIN_BOUND_MS);

    // The stream kept what it held before the crash and got the outage's events once Redis was back:
    // one entry per committed restock, exactly once, in outbox order.
    const entries = ofAggregate(await readStream(gateway.app.redis, gateway.redis.keys.stream('catalog'), after), 'Product', PRODUCT_ID);
    const rows = await gateway.database.db
      .select({ eventId: outbox.eventId, streamId: outbox.streamId })
      .from(outbox)
      .where(and(gt(outbox.id, baseline), eq(outbox.aggregateType, 'Product'), eq(outbox.aggregateId, String(PRODUCT_ID))))
      .orderBy(asc(outbox.id));
    expect(rows).toHaveLength(N);
    expect(entries.map((entry) => ({ eventId: entry.fields.eventId, streamId: entry.streamId }))).toEqual(rows);

    const ids = idsOf(entries);
    const clients = Object.entries({ anonymous, withSession, reconnecting });
    await Promise.allSettled(clients.map(([what, subscriber]) => waitForCursor(subscriber, ids.at(-1)!, what)));
    for (const [what, subscriber] of clients) {
      expect({ what, cursors: cursorsOf(subscriber) }).toEqual({ what, cursors: ids });
    }
    expect(reconnecting.closes[0]?.code).toBe(4499);
    expect(anonymous.closes).toEqual([]);
    expect(withSession.closes).toEqual([]);
  });
});
