// The subscription fields end to end over real websockets: payloads with nested fields resolved
// through the loaders, authorization per subscriber and per event, resume from a cursor (exactly
// the missed events, then live ones), and the errors for expired and malformed cursors.
import type { RedisClient } from '../../src/redis/client';
import { demoAccounts } from '../../src/db/seed';
import { compareStreamIds } from '../../src/subscriptions/stream-ids';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { startSubscriber, type TestSubscriber } from '../support/subscriber';
import { loginDemoAccounts, mutate } from '../support/graphql';
import { type OrderData, PAY_ORDER, placeOrder, RESTOCK_PRODUCT } from '../support/documents';
import { streamTailOf } from '../support/streams';

const alice = demoAccounts[1]!;

const PRODUCT_CHANGED = 'subscription ($id: ID!, $after: String) { productChanged(id: $id, after: $after) { cursor type occurredAt product { id stock } } }';
const MY_ORDERS = 'subscription ($after: String) { myOrders(after: $after) { cursor type order { id status user { email } items { quantity product { id name } } } } }';
const ORDER_EVENTS = 'subscription ($after: String) { orderEvents(after: $after) { cursor type order { id status } } }';
const ORDER_UPDATED = 'subscription ($orderId: ID!, $after: String) { orderUpdated(orderId: $orderId, after: $after) { cursor type order { id status } } }';

let gateway: TestGateway;
let redis: RedisClient;
let tokens: { admin: string; alice: string; bob: string };
const subscribers: TestSubscriber[] = [];

function subscribe(options: Omit<Parameters<typeof startSubscriber>[0], 'urls'>): TestSubscriber {
  const subscriber = startSubscriber({ urls: gateway.wsUrl, ...options });
  subscribers.push(subscriber);
  return subscriber;
}

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 20, products: 20, orders: 10 } });
  redis = gateway.redis.connect();
  tokens = await loginDemoAccounts(gateway);
});

afterAll(async () => {
  await Promise.all(subscribers.map((subscriber) => subscriber.dispose()));
  redis?.disconnect();
  await gateway?.stop();
});

const restock = (productId: number, quantity = 1) => mutate(gateway, RESTOCK_PRODUCT, { id: String(productId), quantity }, tokens.admin);

async function placeAndPay(token: string): Promise<string> {
  const placed = await placeOrder(gateway, token, [{ productId: '3', quantity: 1 }]);
  const order = placed.body.data!.placeOrder as OrderData;
  await mutate(gateway, PAY_ORDER, { id: order.id }, token);
  return order.id;
}

it('delivers product changes with the product as it is now, in stream order', async () => {
  const after = await streamTailOf(gateway.redis, 'catalog');
  const subscriber = subscribe({ query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: '1' }, after });
  await restock(2); // another product: not for this subscriber
  const stocks = [];
  for (let i = 0; i < 3; i += 1) stocks.push(((await restock(1, 5)) as { restockProduct: { stock: number } }).restockProduct.stock);
  const events = await subscriber.waitForEvents(3);
  expect(events.map((event) => event.type)).toEqual(['PRODUCT_RESTOCKED', 'PRODUCT_RESTOCKED', 'PRODUCT_RESTOCKED']);
  expect(events.map((event) => (event.product as { id: string }).id)).toEqual(['1', '1', '1']);
  // Each payload is read after its event's cache invalidation; the last one shows the last stock.
  expect((events[2]!.product as { stock: number }).stock).toBe(stocks[2]);
  const cursors = events.map((event) => event.cursor);
  expect([...cursors].sort(compareStreamIds)).toEqual(cursors);
  expect(new Set(cursors).size).toBe(3);
});

it("resolves nested fields in myOrders and never shows a customer another customer's order", async () => {
  const after = await streamTailOf(gateway.redis, 'orders');
  const aliceSubscriber = subscribe({ query: MY_ORDERS, field: 'myOrders', token: tokens.alice, after });
  const bobSubscriber = subscribe({ query: MY_ORDERS, field: 'myOrders', token: tokens.bob, after });
  const adminSubscriber = subscribe({ query: ORDER_EVENTS, field: 'orderEvents', token: tokens.admin, after });
  const bobOrder = await placeAndPay(tokens.bob);
  const aliceOrder = await placeAndPay(tokens.alice);

  const aliceEvents = await aliceSubscriber.waitForEvents(2);
  expect(aliceEvents.map((event) => [event.type, (event.order as { id: string }).id])).toEqual([
    ['ORDER_PLACED', aliceOrder],
    ['ORDER_PAID', aliceOrder],
  ]);
  const order = aliceEvents[1]!.order as { status: string; user: { email: string }; items: Array<{ quantity: number; product: { id: string } }> };
  expect(order).toMatchObject({ status: 'PAID', user: { email: alice.email }, items: [{ quantity: 1, product: { id: '3' } }] });
  const bobEvents = await bobSubscriber.waitForEvents(2);
  expect(bobEvents.map((event) => (event.order as { id: string }).id)).toEqual([bobOrder, bobOrder]);
  const adminEvents = await adminSubscriber.waitForEvents(4);
  expect(adminEvents.map((event) => (event.order as { id: string }).id)).toEqual([bobOrder, bobOrder, aliceOrder, aliceOrder]);
  // More of bob's events, then one of alice's: a leaked event of bob's would arrive before hers.
  await placeAndPay(tokens.bob);
  const alicePlaced = await placeOrder(gateway, tokens.alice, [{ productId: '3', quantity: 1 }]);
  const aliceLater = alicePlaced.body.data!.placeOrder!.id;
  const allOfAlice = await aliceSubscriber.waitForEvents(3);
  expect(allOfAlice.map((event) => (event.order as { id: string }).id)).toEqual([aliceOrder, aliceOrder, aliceLater]);
  expect(aliceSubscriber.events).toHaveLength(3);
});

it('rejects what a viewer may not subscribe to with the same codes as queries', async () => {
  const aliceOrder = await placeAndPay(tokens.alice);
  const cases = [
    { token: undefined, query: MY_ORDERS, field: 'myOrders', variables: {}, code: 'UNAUTHENTICATED' },
    { token: tokens.alice, query: ORDER_EVENTS, field: 'orderEvents', variables: {}, code: 'FORBIDDEN' },
    { token: tokens.bob, query: ORDER_UPDATED, field: 'orderUpdated', variables: { orderId: aliceOrder }, code: 'NOT_FOUND' },
    { token: tokens.alice, query: ORDER_UPDATED, field: 'orderUpdated', variables: { orderId: '99999999' }, code: 'NOT_FOUND' },
    { token: undefined, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: 'x' }, code: 'BAD_USER_INPUT' },
  ];
  for (const { code, ...options } of cases) {
    const errors = await subscribe({ ...options, isRetrying: false }).waitForError();
    expect(errors.map((error) => error.extensions?.code)).toEqual([code]);
  }
});

it('resumes after a cursor with exactly the missed events, then live ones', async () => {
  const after = await streamTailOf(gateway.redis, 'orders');
  const placed = await placeOrder(gateway, tokens.alice, [{ productId: '4', quantity: 1 }]);
  const orderId = placed.body.data!.placeOrder!.id;
  const watcher = subscribe({ query: ORDER_UPDATED, field: 'orderUpdated', token: tokens.alice, variables: { orderId }, after });
  const [placedEvent] = await watcher.waitForEvents(1);
  await watcher.dispose();

  // While nobody listens: paid, then cancelled.
  await mutate(gateway, PAY_ORDER, { id: orderId }, tokens.alice);
  await mutate(gateway, 'mutation ($id: ID!) { cancelOrder(id: $id) { id } }', { id: orderId }, tokens.alice);
  const resumed = subscribe({ query: ORDER_UPDATED, field: 'orderUpdated', token: tokens.alice, variables: { orderId }, after: placedEvent!.cursor });
  const missed = await resumed.waitForEvents(2);
  expect(missed.map((event) => event.type)).toEqual(['ORDER_PAID', 'ORDER_CANCELLED']);
  expect(missed.every((event) => (event.order as { status: string }).status === 'CANCELLED')).toBe(true);
});

it('answers CURSOR_EXPIRED for a trimmed cursor and BAD_USER_INPUT for a malformed one', async () => {
  const before = await streamTailOf(gateway.redis, 'catalog');
  await restock(5);
  await restock(5);
  await restock(5);
  // Retention ran: only the newest entry is kept.
  await redis.xtrim(gateway.redis.keys.stream('catalog'), 'MAXLEN', 1);
  const expired = await subscribe({ query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: '5' }, after: before, isRetrying: false }).waitForError();
  expect(expired.map((error) => error.extensions?.code)).toEqual(['CURSOR_EXPIRED']);
  for (const garbage of ['yesterday', '1-2-3', '-1-0', '99999999999999999999999-0', '']) {
    const errors = await subscribe({ query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: '5' }, after: garbage, isRetrying: false }).waitForError();
    expect(errors.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  }
  // A cursor from the future (another Redis' history) cannot be resumed from either.
  const future = await subscribe({ query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: '5' }, after: `${Date.now() + 3_600_000}-0`, isRetrying: false }).waitForError();
  expect(future.map((error) => error.extensions?.code)).toEqual(['CURSOR_EXPIRED']);
});
