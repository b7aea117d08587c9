// notificationAdded end to end: order events feed the notifications projection (run in the
// gateway), which writes a notification row and its NotificationAdded event in one transaction;
// the owner's subscription delivers them in order, nobody else's does, and a resume from a cursor
// replays exactly what came after it.
import { asc, inArray } from 'drizzle-orm';
import { notifications } from '../../src/db/schema';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { startSubscriber, type ReceivedEvent, type TestSubscriber } from '../support/subscriber';
import { loginDemoAccounts, mutate } from '../support/graphql';
import { CANCEL_ORDER, PAY_ORDER, placeOrder, SHIP_ORDER } from '../support/documents';
import { readStream, streamTailOf } from '../support/streams';
import { compareStreamIds } from '../../src/subscriptions/stream-ids';
import { waitUntil } from '../../src/testing/wait';

const ALICE_ID = 2;

const NOTIFICATION_ADDED =
  'subscription ($after: String) { notificationAdded(after: $after) { cursor type notification { id kind message isRead order { id status } } } }';

interface NotificationPayload {
  id: string;
  kind: string;
  message: string;
  isRead: boolean;
  order: { id: string; status: string };
}

let gateway: TestGateway;
let tokens: { admin: string; alice: string; bob: string };
const subscribers: TestSubscriber[] = [];

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 10, orders: 10 }, runProjections: true });
  tokens = await loginDemoAccounts(gateway);
});

afterAll(async () => {
  await Promise.all(subscribers.map((subscriber) => subscriber.dispose()));
  await gateway?.stop();
});

function subscribe(token: string, after: string): TestSubscriber {
  const subscriber = startSubscriber({ urls: gateway.wsUrl, token, query: NOTIFICATION_ADDED, field: 'notificationAdded', after });
  subscribers.push(subscriber);
  return subscriber;
}

const notificationOf = (event: ReceivedEvent) => event.notification as NotificationPayload;

/** What identifies each delivered event, for comparing sequences. */
const summary = (events: ReceivedEvent[]) =>
  events.map((event) => ({ cursor: event.cursor, id: notificationOf(event).id, kind: notificationOf(event).kind, orderId: notificationOf(event).order.id }));

async function placeOrderAs(token: string): Promise<string> {
  const placed = await placeOrder(gateway, token, [{ productId: '3', quantity: 1 }]);
  expect(placed.body.errors).toBeUndefined();
  return placed.body.data!.placeOrder.id;
}

const payOrder = (orderId: string, token: string) => mutate(gateway, PAY_ORDER, { id: orderId }, token);

/** The projection writes notifications after the order events: wait until `count` are in the stream. */
const waitForStreamLength = (after: string, count: number) =>
  waitUntil(async () => (await readStream(gateway.app.redis, gateway.redis.keys.stream('notifications'), after)).length >= count, `${count} notifications in the stream`, 10_000);

it('delivers ORDER_PAID then ORDER_SHIPPED to the owner, in order, each backed by exactly one row and one NotificationAdded event', async () => {
  const after = await streamTailOf(gateway.redis, 'notifications');
  const ordersAfter = await streamTailOf(gateway.redis, 'orders');
  const subscriber = subscribe(tokens.alice, after);

  const orderId = await placeOrderAs(tokens.alice);
  await payOrder(orderId, tokens.alice);
  const [paid] = await subscriber.waitForEvents(1);
  // Shipped only now, so the first payload shows the order as it was when that event was delivered.
  await mutate(gateway, SHIP_ORDER, { id: orderId }, tokens.admin);
  const [, shipped] = await subscriber.waitForEvents(2);

  expect([paid!.type, shipped!.type]).toEqual(['NOTIFICATION_ADDED', 'NOTIFICATION_ADDED']);
  expect(notificationOf(paid!)).toEqual({
    id: expect.any(String),
    kind: 'ORDER_PAID',
    message: `Your order #${orderId} is paid. We are preparing it.`,
    isRead: false,
    order: { id: orderId, status: 'PAID' },
  });
  expect(notificationOf(shipped!)).toEqual({
    id: expect.any(String),
    kind: 'ORDER_SHIPPED',
    message: `Your order #${orderId} has shipped.`,
    isRead: false,
    order: { id: orderId, status: 'SHIPPED' },
  });
  expect(compareStreamIds(shipped!.cursor, paid!.cursor)).toBeGreaterThan(0);

  const orderEvents = (await readStream(gateway.app.redis, gateway.redis.keys.stream('orders'), ordersAfter)).filter((entry) => entry.event.type !== 'OrderPlaced');
  expect(orderEvents.map((entry) => entry.event.type)).toEqual(['OrderPaid', 'OrderShipped']);
  const rows = await gateway.database.db
    .select({ id: notifications.id, userId: notifications.userId, kind: notifications.kind, eventId: notifications.eventId })
    .from(notifications)
    .where(inArray(notifications.orderId, [Number(orderId)]))
    .orderBy(asc(notifications.id));
  expect(rows).toEqual([
    { id: Number(notificationOf(paid!).id), userId: ALICE_ID, kind: 'ORDER_PAID', eventId: orderEvents[0]!.event.id },
    { id: Number(notificationOf(shipped!).id), userId: ALICE_ID, kind: 'ORDER_SHIPPED', eventId: orderEvents[1]!.event.id },
  ]);
  const added = await readStream(gateway.app.redis, gateway.redis.keys.stream('notifications'), after);
  expect(added.map((entry) => ({ cursor: entry.streamId, id: String((entry.event.data as { notificationId: number }).notificationId) }))).toEqual(
    [paid!, shipped!].map((event) => ({ cursor: event.cursor, id: notificationOf(event).id })),
  );
});

it("never delivers a customer another customer's notifications, replayed or live", async () => {
  const after = await streamTailOf(gateway.redis, 'notifications');
  const aliceOrders = [await placeOrderAs(tokens.alice), await placeOrderAs(tokens.alice)];
  const bobOrders = [await placeOrderAs(tokens.bob), await placeOrderAs(tokens.bob)];
  // The first two before anyone subscribes (they come from the replay), the last two live.
  await payOrder(aliceOrders[0]!, tokens.alice);
  await payOrder(bobOrders[0]!, tokens.bob);
  await waitForStreamLength(after, 2);
  const aliceSubscriber = subscribe(tokens.alice, after);
  const bobSubscriber = subscribe(tokens.bob, after);
  await Promise.all([aliceSubscriber.waitForEvents(1), bobSubscriber.waitForEvents(1)]);
  await payOrder(aliceOrders[1]!, tokens.alice);
  await payOrder(bobOrders[1]!, tokens.bob);

  // Interleaved in the stream: alice, bob, alice, bob. A feed delivers in stream order, so alice's
  // list is complete up to her second notification (after bob's first), and bob's up to his second
  // (after both of alice's): anything that leaked would be in the lists compared below.
  await aliceSubscriber.waitForEvents(2);
  await bobSubscriber.waitForEvents(2);
  expect(summary(aliceSubscriber.events).map(({ kind, orderId }) => ({ kind, orderId }))).toEqual(aliceOrders.map((orderId) => ({ kind: 'ORDER_PAID', orderId })));
  expect(summary(bobSubscriber.events).map(({ kind, orderId }) => ({ kind, orderId }))).toEqual(bobOrders.map((orderId) => ({ kind: 'ORDER_PAID', orderId })));
  expect(await readStream(gateway.app.redis, gateway.redis.keys.stream('notifications'), after)).toHaveLength(4);
});

it('resumes after a cursor with exactly the notifications that came after it, then live ones', async () => {
  const after = await streamTailOf(gateway.redis, 'notifications');
  const live = subscribe(tokens.alice, after);
  const orderId = await placeOrderAs(tokens.alice);
  await payOrder(orderId, tokens.alice);
  await mutate(gateway, SHIP_ORDER, { id: orderId }, tokens.admin);
  // Someone else's notification between the two cursors: the replay must skip it.
  await payOrder(await placeOrderAs(tokens.bob), tokens.bob);
  const [paid, shipped] = await live.waitForEvents(2);

  const resumed = subscribe(tokens.alice, paid!.cursor);
  const [replayed] = await resumed.waitForEvents(1);
  expect(summary([replayed!])).toEqual(summary([shipped!]));
  expect(notificationOf(replayed!).kind).toBe('ORDER_SHIPPED');

  // A later notification ends both lists: nothing else was delivered in between.
  const cancelledOrder = await placeOrderAs(tokens.alice);
  await mutate(gateway, CANCEL_ORDER, { id: cancelledOrder }, tokens.alice);
  const [, cancelled] = await resumed.waitForEvents(2);
  expect(notificationOf(cancelled!)).toMatchObject({ kind: 'ORDER_CANCELLED', order: { id: cancelledOrder, status: 'CANCELLED' } });
  await live.waitForEvents(3);
  expect(summary(resumed.events)).toEqual(summary([shipped!, cancelled!]));
  expect(summary(live.events)).toEqual(summary([paid!, shipped!, cancelled!]));
});
