// Subscriptions across replicas, as a deployment runs them: three real gateway processes
// (src/main.ts) on one redis-server and one PostgreSQL database. What each subscriber receives is
// compared with the stream itself (XRANGE sg:{events}:stream:orders, filtered by what that subscriber may
// see), message by message as it came off the socket: every event once, in stream order, nothing
// else. That holds when the mutations go to another replica, when a client resumes on another
// replica with its cursor, and when its replica is killed with SIGKILL in the middle of traffic
// (taking the outbox relay lock with it). A logoutAll on one replica closes the user's websockets
// on the others with 4403.
//
// PostgreSQL only: replicas must share one database, and embedded PGlite belongs to one process.
// CI runs the suite a second time with DATABASE_URL, where this runs.
import type { RedisClient } from '../../src/redis/client';
import { demoAccounts, generatedUserPassword } from '../../src/db/seed';
import { createGatewayDatabase, startGatewayProcess, type GatewayDatabase, type GatewayProcess } from '../support/gateway-process';
import { expectedDeliveries, orderStreamAfter, relayLeaders, startRecordingSubscriber, toOrderDelivery, waitForChannelSubscribers, type OrderDelivery, type RecordingSubscriber } from '../support/replica-clients';
import { startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import type { TestSubscriberOptions } from '../support/subscriber';
import { CANCEL_ORDER, PAY_ORDER, PLACE_ORDER, RESTOCK_PRODUCT, SHIP_ORDER } from '../support/documents';
import { login, mutate, postGraphQL } from '../support/graphql';
import { waitUntil } from '../../src/testing/wait';
import { streamTailOf } from '../support/streams';

const describeOnPostgres = process.env.DATABASE_URL ? describe : describe.skip;

const MY_ORDERS = 'subscription ($after: String) { myOrders(after: $after) { cursor type order { id status } } }';
const ORDER_EVENTS = 'subscription ($after: String) { orderEvents(after: $after) { cursor type order { id status } } }';
const ORDER_UPDATED = 'subscription ($orderId: ID!, $after: String) { orderUpdated(orderId: $orderId, after: $after) { cursor type order { id status } } }';

/** Every order in this file buys one unit of this product, restocked first so none is refused. */
const PRODUCT_ID = '1';
const [admin, alice, bob] = demoAccounts as [(typeof demoAccounts)[0], (typeof demoAccounts)[0], (typeof demoAccounts)[0]];
const USER_IDS = { alice: 2, bob: 3 } as const;
const generatedUser = (id: number) => ({ id, email: `user${id}@example.com`, password: generatedUserPassword });

describeOnPostgres('subscriptions across three gateway replicas (PostgreSQL only: PGlite cannot be shared by processes)', () => {
  let testRedis: TestRedis;
  let gatewayDatabase: GatewayDatabase;
  let redis: RedisClient;
  let replicas: [GatewayProcess, GatewayProcess, GatewayProcess];
  let tokens: { admin: string; alice: string; bob: string };
  const subscribers = new Set<RecordingSubscriber>();
  /** Every process started, even when beforeAll fails part way. */
  const started: GatewayProcess[] = [];

  beforeAll(async () => {
    testRedis = await startTestRedis();
    gatewayDatabase = await createGatewayDatabase();
    redis = testRedis.connect();
    const env = {
      ...testRedis.env,
      ...gatewayDatabase.env,
      // Sockets are re-checked only once an hour: a 4403 here can only come from the revocation broadcast.
      WS_SESSION_CHECK_SECONDS: '3600',
    };
    // The first process migrates and seeds the empty database alone; then the other two join it.
    const start = async () => {
      const replica = await startGatewayProcess({ env });
      started.push(replica);
      return replica;
    };
    const first = await start();
    const [second, third] = await Promise.all([start(), start()]);
    replicas = [first, second, third];
    tokens = {
      admin: await login(replicas[0].url, admin.email, admin.password),
      alice: await login(replicas[1].url, alice.email, alice.password),
      bob: await login(replicas[2].url, bob.email, bob.password),
    };
    await mutate(replicas[0].url, RESTOCK_PRODUCT, { id: PRODUCT_ID, quantity: 10_000 }, tokens.admin);
  });

  afterAll(async () => {
    // Settled, not all: after a failed test, a client may still be retrying the killed replica, and
    // its dispose rejects ("All Subscriptions Gone"); everything else must be stopped all the same.
    await Promise.allSettled([...subscribers].map((subscriber) => subscriber.dispose()));
    await Promise.allSettled(started.map((replica) => replica.stop()));
    redis?.disconnect();
    try {
      await gatewayDatabase?.dispose();
    } finally {
      await testRedis?.stop();
    }
  });

  function subscribe(options: TestSubscriberOptions): RecordingSubscriber {
    const subscriber = startRecordingSubscriber(options);
    subscribers.add(subscriber);
    return subscriber;
  }

  async function disposeAll(...toDispose: RecordingSubscriber[]): Promise<void> {
    await Promise.all(toDispose.map((subscriber) => subscriber.dispose()));
    for (const subscriber of toDispose) subscribers.delete(subscriber);
  }

  const placeOrder = async (replica: GatewayProcess, token: string): Promise<string> =>
    (await mutate<{ placeOrder: { id: string } }>(replica.url, PLACE_ORDER, { input: { items: [{ productId: PRODUCT_ID, quantity: 1 }] } }, token))
      .placeOrder.id;
  const changeOrder = (replica: GatewayProcess, mutation: string, orderId: string, token: string) =>
    mutate(replica.url, mutation, { id: orderId }, token);

  /** Waits for `expected.length` events, then checks the raw deliveries and the helper's events against them. */
  async function expectToReceive(subscriber: RecordingSubscriber, expected: OrderDelivery[]): Promise<void> {
    await subscriber.waitForEvents(expected.length, 30_000);
    expect(subscriber.deliveries).toEqual(expected);
    expect(subscriber.events.map(toOrderDelivery)).toEqual(expected);
  }

  it('delivers every event once, in stream order, to subscribers on every replica while mutations go to one', async () => {
    const [r1, r2, r3] = replicas;
    const user4 = generatedUser(4);
    const user4Token = await login(r2.url, user4.email, user4.password);
    const after = await streamTailOf(testRedis, 'orders');
    const bobFirstOrder = await placeOrder(r1, tokens.bob);

    const watchers = {
      aliceOn1: subscribe({ urls: r1.wsUrl, token: tokens.alice, query: MY_ORDERS, field: 'myOrders', after }),
      aliceOn3: subscribe({ urls: r3.wsUrl, token: tokens.alice, query: MY_ORDERS, field: 'myOrders', after }),
      bobOn2: subscribe({ urls: r2.wsUrl, token: tokens.bob, query: MY_ORDERS, field: 'myOrders', after }),
      user4On2: subscribe({ urls: r2.wsUrl, token: user4Token, query: MY_ORDERS, field: 'myOrders', after }),
      adminOn2: subscribe({ urls: r2.wsUrl, token: tokens.admin, query: ORDER_EVENTS, field: 'orderEvents', after }),
      adminOn3: subscribe({ urls: r3.wsUrl, token: tokens.admin, query: ORDER_EVENTS, field: 'orderEvents', after }),
      bobOrderOn3: subscribe({
        urls: r3.wsUrl,
        token: tokens.bob,
        query: ORDER_UPDATED,
        field: 'orderUpdated',
        variables: { orderId: bobFirstOrder },
        after,
      }),
    };
    // Live before the traffic starts, so the events travel replica to replica over pub/sub (a
    // replay after `after` would deliver them too, but would not test that).
    await waitForChannelSubscribers(redis, {
      [testRedis.keys.channel('user-orders', 2)]: 2,
      [testRedis.keys.channel('user-orders', 3)]: 1,
      [testRedis.keys.channel('user-orders', 4)]: 1,
      [testRedis.keys.channel('order-events')]: 2,
      [testRedis.keys.channel('order', bobFirstOrder)]: 1,
    });

    // Every mutation goes to replica 1; alice's and bob's interleave however their commits fall.
    await Promise.all([
      (async () => {
        const first = await placeOrder(r1, tokens.alice);
        const second = await placeOrder(r1, tokens.alice);
        await changeOrder(r1, PAY_ORDER, first, tokens.alice);
        const third = await placeOrder(r1, tokens.alice);
        await changeOrder(r1, CANCEL_ORDER, second, tokens.alice);
        await changeOrder(r1, PAY_ORDER, third, tokens.alice);
        await changeOrder(r1, CANCEL_ORDER, third, tokens.alice);
      })(),
      (async () => {
        await changeOrder(r1, PAY_ORDER, bobFirstOrder, tokens.bob);
        const second = await placeOrder(r1, tokens.bob);
        await changeOrder(r1, PAY_ORDER, second, tokens.bob);
        await changeOrder(r1, SHIP_ORDER, second, tokens.admin);
        const third = await placeOrder(r1, tokens.bob);
        await changeOrder(r1, CANCEL_ORDER, third, tokens.bob);
      })(),
    ]);
    // Closing events, one after another: each subscriber's last event comes after (nearly) all the
    // others, so an event it must not get would show up before it, in its sequence.
    const aliceLast = await placeOrder(r1, tokens.alice);
    const user4Order = await placeOrder(r1, user4Token);
    await changeOrder(r1, CANCEL_ORDER, aliceLast, tokens.alice);
    await changeOrder(r1, CANCEL_ORDER, bobFirstOrder, tokens.bob);
    await changeOrder(r1, CANCEL_ORDER, user4Order, user4Token);

    const entries = await orderStreamAfter(redis, testRedis.keys.stream('orders'), after, 19);
    expect(entries).toHaveLength(19);
    const expected = {
      alice: expectedDeliveries(entries, (data) => data.userId === USER_IDS.alice),
      bob: expectedDeliveries(entries, (data) => data.userId === USER_IDS.bob),
      user4: expectedDeliveries(entries, (data) => data.userId === user4.id),
      all: expectedDeliveries(entries, () => true),
      bobFirstOrder: expectedDeliveries(entries, (data) => String(data.orderId) === bobFirstOrder),
    };
    expect([expected.alice.length, expected.bob.length, expected.user4.length, expected.all.length]).toEqual([9, 8, 2, 19]);
    expect(expected.bobFirstOrder.map((delivery) => delivery.type)).toEqual(['ORDER_PLACED', 'ORDER_PAID', 'ORDER_CANCELLED']);

    await expectToReceive(watchers.aliceOn1, expected.alice);
    await expectToReceive(watchers.aliceOn3, expected.alice);
    await expectToReceive(watchers.bobOn2, expected.bob);
    await expectToReceive(watchers.user4On2, expected.user4);
    await expectToReceive(watchers.adminOn2, expected.all);
    await expectToReceive(watchers.adminOn3, expected.all);
    await expectToReceive(watchers.bobOrderOn3, expected.bobFirstOrder);
    for (const watcher of Object.values(watchers)) expect(watcher.closes).toEqual([]);
    await disposeAll(...Object.values(watchers));
  });

  it('resumes on another replica after a disconnect: exactly the missed events, then live ones', async () => {
    const [r1, r2, r3] = replicas;
    const after = await streamTailOf(testRedis, 'orders');
    const onReplica1 = subscribe({ urls: r1.wsUrl, token: tokens.alice, query: MY_ORDERS, field: 'myOrders', after });
    const seen = await placeOrder(r3, tokens.alice);
    await changeOrder(r3, PAY_ORDER, seen, tokens.alice);
    await onReplica1.waitForEvents(2);
    const cursor = onReplica1.subscription.cursor!;
    await disposeAll(onReplica1);

    // While alice is away: she places an order, both her orders change, and bob orders (not hers).
    const missed = await placeOrder(r3, tokens.alice);
    await placeOrder(r3, tokens.bob);
    await changeOrder(r3, CANCEL_ORDER, seen, tokens.alice);
    await changeOrder(r3, PAY_ORDER, missed, tokens.alice);

    const onReplica2 = subscribe({ urls: r2.wsUrl, token: tokens.alice, query: MY_ORDERS, field: 'myOrders', after: cursor });
    const missedEntries = await orderStreamAfter(redis, testRedis.keys.stream('orders'), cursor, 4);
    const expectedMissed = expectedDeliveries(missedEntries, (data) => data.userId === USER_IDS.alice);
    expect(expectedMissed.map((delivery) => delivery.type)).toEqual(['ORDER_PLACED', 'ORDER_CANCELLED', 'ORDER_PAID']);
    await expectToReceive(onReplica2, expectedMissed);

    // Caught up: what happens now arrives live.
    await placeOrder(r3, tokens.bob);
    const live = await placeOrder(r3, tokens.alice);
    const expectedAfterCursor = expectedDeliveries(await orderStreamAfter(redis, testRedis.keys.stream('orders'), cursor, 6), (data) => data.userId === USER_IDS.alice);
    expect(expectedAfterCursor.at(-1)).toMatchObject({ type: 'ORDER_PLACED', orderId: live });
    await expectToReceive(onReplica2, expectedAfterCursor);

    // Before the disconnect plus after it is alice's whole history since `after`, each event once.
    const wholeHistory = expectedDeliveries(await orderStreamAfter(redis, testRedis.keys.stream('orders'), after, 8), (data) => data.userId === USER_IDS.alice);
    expect(wholeHistory).toHaveLength(6);
    expect([...onReplica1.deliveries, ...onReplica2.deliveries]).toEqual(wholeHistory);
    expect(onReplica1.connectedUrls).toEqual([r1.wsUrl]);
    expect(onReplica2.connectedUrls).toEqual([r2.wsUrl]);
    await disposeAll(onReplica2);
  });

  it("closes a user's websockets on the other replicas with 4403 when logoutAll runs on one", async () => {
    const [r1, r2, r3] = replicas;
    const [leaving, staying] = [generatedUser(5), generatedUser(6)];
    const leavingToken = await login(r1.url, leaving.email, leaving.password);
    const stayingToken = await login(r1.url, staying.email, staying.password);
    const options = { query: MY_ORDERS, field: 'myOrders', isRetrying: false } as const;
    const leavingOn2 = subscribe({ ...options, urls: r2.wsUrl, token: leavingToken });
    const leavingOn3 = subscribe({ ...options, urls: r3.wsUrl, token: leavingToken });
    const stayingOn2 = subscribe({ ...options, urls: r2.wsUrl, token: stayingToken });
    // Acknowledged means authenticated and registered under its session on that replica.
    await Promise.all([leavingOn2, leavingOn3, stayingOn2].map((subscriber) => subscriber.waitForConnections(1)));

    const loggedOut = await mutate<{ logoutAll: number }>(r1.url, 'mutation { logoutAll }', {}, leavingToken);
    expect(loggedOut.logoutAll).toBe(1);

    for (const subscriber of [leavingOn2, leavingOn3]) {
      await subscriber.waitForError();
      expect(subscriber.closes).toEqual([{ code: 4403, reason: 'Session revoked; log in again' }]);
    }
    expect((await postGraphQL(r2.url, '{ me { email } }', { token: leavingToken })).status).toBe(401);

    // Another user's socket on the same replica is untouched and still gets its events.
    const order = await placeOrder(r1, stayingToken);
    const [event] = await stayingOn2.waitForEvents(1);
    expect(toOrderDelivery(event!)).toMatchObject({ type: 'ORDER_PLACED', orderId: order });
    expect(stayingOn2.closes).toEqual([]);
    await disposeAll(leavingOn2, leavingOn3, stayingOn2);
  });

  it('loses and repeats nothing when the replica a subscriber is on is killed mid-traffic (relay lock included)', async () => {
    // The replica to kill holds the relay lock: its death must not stop events being published.
    let leaders: GatewayProcess[] = [];
    await waitUntil(async () => (leaders = await relayLeaders(replicas)).length === 1, 'exactly one replica holds the relay lock', 10_000);
    const doomed = leaders[0]!;
    const survivors = replicas.filter((replica) => replica !== doomed);
    const [mutationTarget] = survivors as [GatewayProcess, GatewayProcess];

    // Like a load balancer that has not noticed the crash yet, every (re)connect goes to the doomed
    // replica until the test says the crash is noticed; from then on the client rotates over all three.
    let isCrashNoticed = false;
    let connectAttempts = 0;
    const rotation = [doomed, ...survivors].map((replica) => replica.wsUrl);
    const after = await streamTailOf(testRedis, 'orders');
    const watcher = subscribe({
      urls: () => (isCrashNoticed ? rotation[connectAttempts++ % rotation.length]! : doomed.wsUrl),
      token: tokens.alice,
      query: MY_ORDERS,
      field: 'myOrders',
      after,
    });
    await watcher.waitForConnections(1);
    expect(watcher.connectedUrls).toEqual([doomed.wsUrl]);

    const iterations = 10;
    let mutationCount = 0;
    let markKilled!: () => void;
    const killed = new Promise<void>((resolve) => (markKilled = resolve));
    let whileAway = { cursor: null as string | null, received: 0, published: 0 };
    const traffic = (async () => {
      for (let iteration = 0; iteration < iterations; iteration += 1) {
        // The kill lands during the first three iterations (or the traffic waits for it there).
        if (iteration === 3) await killed;
        if (iteration === 6) {
          // Everything so far is published (by the relay's new holder), some of it while the client
          // had no replica: it must get that by replay when it reconnects, the rest live.
          const published = expectedDeliveries(await orderStreamAfter(redis, testRedis.keys.stream('orders'), after, mutationCount), (data) => data.userId === USER_IDS.alice);
          whileAway = { cursor: watcher.subscription.cursor, received: watcher.events.length, published: published.length };
          isCrashNoticed = true;
        }
        const aliceOrder = await placeOrder(mutationTarget, tokens.alice);
        await placeOrder(mutationTarget, tokens.bob);
        await changeOrder(mutationTarget, PAY_ORDER, aliceOrder, tokens.alice);
        mutationCount += 3;
        if (iteration % 3 === 2) {
          await changeOrder(mutationTarget, CANCEL_ORDER, aliceOrder, tokens.alice);
          mutationCount += 1;
        }
      }
    })();
    const crash = (async () => {
      try {
        await watcher.waitForEvents(4);
        return await doomed.kill();
      } finally {
        markKilled();
      }
    })();
    const [, exit] = await Promise.all([traffic, crash]);
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });

    const entries = await orderStreamAfter(redis, testRedis.keys.stream('orders'), after, mutationCount);
    // The relay moved to a survivor and published no event twice.
    expect(entries).toHaveLength(mutationCount);
    expect(new Set(entries.map(({ event }) => event.id)).size).toBe(mutationCount);
    expect(await relayLeaders(survivors)).toHaveLength(1);
    const expected = expectedDeliveries(entries, (data) => data.userId === USER_IDS.alice);
    expect(expected).toHaveLength(23);
    await expectToReceive(watcher, expected);

    // It really was cut off mid-stream, missed events while away, and resumed on a survivor.
    expect(expected[whileAway.received - 1]?.cursor).toBe(whileAway.cursor);
    // At least iterations 3 to 5 (seven of alice's events) happened while it had no replica.
    expect(whileAway.published - whileAway.received).toBeGreaterThanOrEqual(7);
    expect(watcher.closes[0]?.code).toBe(1006);
    expect(watcher.connectedUrls).toHaveLength(2);
    expect(survivors.map((replica) => replica.wsUrl)).toContain(watcher.connectedUrls[1]);
    await disposeAll(watcher);
  });
});
