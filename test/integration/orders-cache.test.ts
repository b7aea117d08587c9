// Read-your-writes across replicas: for every mutation of the write path, replica B first reads (and
// caches) the order, the order pages, the product, the catalogue page and the user; then the
// mutation runs on replica A; the moment it returns, B answers exactly what a gateway without any
// cache answers, and that answer shows the change. Each mutation's event is checked against the
// documented envelope (docs/events.md) on the way. Run with L1 off, with L1 on for every type, and
// with whole responses cached.
import type { RedisClient } from '../../src/redis/client';
import { eq, sql } from 'drizzle-orm';
import { orders, products, users } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import type { EventType, StreamName } from '../../src/events/event-types';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { orderCacheType, orderPageCacheType } from '../../src/modules/orders/order.loader';
import { userCacheType } from '../../src/modules/users/user.loader';
import { readCacheEntry } from '../support/cache-entries';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { startTwoGateways, withoutClose, type TwoGateways } from '../support/two-gateways';
import { CANCEL_ORDER, line, type OrderData, PAY_ORDER, PLACE_ORDER, RESTOCK_PRODUCT, SHIP_ORDER, UPDATE_PRODUCT, UPDATE_PROFILE } from '../support/documents';
import { readStream, type StreamEntry, streamTail } from '../support/streams';
import { mutate } from '../support/graphql';

const [admin, alice] = demoAccounts as [(typeof demoAccounts)[number], (typeof demoAccounts)[number]];
const ALICE_ID = 2;
const PRODUCT_ID = 3;
const STOCK = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const CUSTOMER_VIEW = `query ($orderId: ID!, $productId: ID!) {
  me { id name email }
  order(id: $orderId) { id status totalCents updatedAt items { quantity unitPriceCents product { id name priceCents stock } } }
  orders(first: 10) { edges { node { id status updatedAt } } }
  pending: orders(first: 10, status: PENDING) { edges { node { id } } }
  paid: orders(first: 10, status: PAID) { edges { node { id } } }
  product(id: $productId) { id name description priceCents stock updatedAt }
  products(first: 5) { edges { node { id name priceCents stock } } }
}`;
const ADMIN_VIEW = `query ($orderId: ID!, $userId: ID!) {
  order(id: $orderId) { id status user { id name email } }
  orders(first: 10) { edges { node { id status } } }
  user(id: $userId) { id name email }
}`;

interface Connection<Node> {
  edges: Array<{ node: Node }>;
}
interface CustomerView {
  me: { id: string; name: string; email: string };
  order: (OrderData & { items: Array<{ quantity: number; unitPriceCents: number; product: { stock: number; name: string } }> }) | null;
  orders: Connection<{ id: string; status: string }>;
  pending: Connection<{ id: string }>;
  paid: Connection<{ id: string }>;
  product: { id: string; name: string; description: string; priceCents: number; stock: number; updatedAt: string };
  products: Connection<{ id: string; name: string; priceCents: number; stock: number }>;
}
interface AdminView {
  order: { id: string; status: string; user: { name: string; email: string } } | null;
  orders: Connection<{ id: string; status: string }>;
  user: { id: string; name: string; email: string };
}
interface Views {
  customer: CustomerView;
  admin: AdminView;
}

const idsOf = (page: Connection<{ id: string }>) => page.edges.map((edge) => edge.node.id);

describe.each([
  ['L1 off', '', 'false'],
  ['L1 on for every type', 'Product,ProductPages,User,UserPages,Order,OrderPages,OrderItems', 'false'],
  ['whole responses cached', '', 'true'],
])('after a mutation returns on replica A, replica B reads the new value (%s)', (_label, l1Types, cacheResponses) => {
  let pair: TwoGateways;
  /** Shares the redis-server and the database, caches nothing: what a correct answer is. */
  let uncached: TestGateway;
  let redis: RedisClient;
  let adminToken: string;
  let aliceToken: string;

  beforeAll(async () => {
    pair = await startTwoGateways({ env: { CACHE_L1_TYPES: l1Types, CACHE_RESPONSES: cacheResponses }, seed: { users: 10, products: 10, orders: 40 } });
    uncached = await startTestGateway({
      env: { CACHE_ENABLED: 'false' },
      redis: pair.redis,
      database: withoutClose(pair.database),
    });
    redis = pair.redis.connect();
    adminToken = await pair.a.login(admin.email, admin.password);
    aliceToken = await pair.a.login(alice.email, alice.password);
    await mutate(pair.a, UPDATE_PRODUCT, { id: String(PRODUCT_ID), input: { stock: STOCK } }, adminToken);
  });

  afterAll(async () => {
    redis?.disconnect();
    await uncached?.stop();
    await pair?.stop();
  });

  async function readViews(gateway: TestGateway, orderId: number | string): Promise<Views> {
    const customer = await mutate<CustomerView>(gateway, CUSTOMER_VIEW, { orderId: String(orderId), productId: String(PRODUCT_ID) }, aliceToken);
    const adminView = await mutate<AdminView>(gateway, ADMIN_VIEW, { orderId: String(orderId), userId: String(ALICE_ID) }, adminToken);
    return { customer, admin: adminView };
  }

  /** Reads everything on `gateway` until Redis holds it, and checks that the answer was right then. */
  async function warm(gateway: TestGateway, orderId: number): Promise<Views> {
    const views = await readViews(gateway, orderId);
    const keys = gateway.app.keys;
    const entries = [
      await readCacheEntry(redis, keys, productCacheType, PRODUCT_ID),
      await readCacheEntry(redis, keys, orderCacheType, orderId),
      await readCacheEntry(redis, keys, userCacheType, ALICE_ID),
      await readCacheEntry(redis, keys, orderPageCacheType, { scope: ALICE_ID, status: null, first: 10, afterId: null }),
      await readCacheEntry(redis, keys, orderPageCacheType, { scope: ALICE_ID, status: 'PENDING', first: 10, afterId: null }),
      await readCacheEntry(redis, keys, orderPageCacheType, { scope: 'all', status: null, first: 10, afterId: null }),
    ];
    for (const entry of entries) expect(entry.raw).not.toBeNull();
    // Read again: answered from the cache now (whole responses, or entries), and unchanged.
    const { cacheStats, responseCache } = gateway.app;
    const cacheHits = () => (responseCache ? responseCache.hits : cacheStats.total('hits') + cacheStats.total('l1Hits'));
    const hitsBefore = cacheHits();
    const missesBefore = cacheStats.total('misses');
    expect(await readViews(gateway, orderId)).toEqual(views);
    expect(cacheHits()).toBeGreaterThan(hitsBefore);
    expect(cacheStats.total('misses')).toBe(missesBefore);
    expect(views).toEqual(await readViews(uncached, orderId));
    return views;
  }

  /** B's answer right after the mutation: equal to the uncached answer. */
  async function readAfter(orderId: number | string): Promise<Views> {
    const seen = await readViews(pair.b, orderId);
    expect(seen).toEqual(await readViews(uncached, orderId));
    return seen;
  }

  /** The one entry the mutation added to `stream`, checked against the documented envelope. */
  async function theNewEvent(
    stream: StreamName,
    afterId: string,
    type: EventType,
    aggregate: { type: 'Order' | 'Product' | 'User'; id: number | string },
    data: Record<string, unknown>,
    window: { from: number; to: number },
  ): Promise<StreamEntry> {
    const entries = await readStream(redis, pair.redis.keys.stream(stream), afterId);
    expect(entries).toHaveLength(1);
    const [entry] = entries as [StreamEntry];
    const { event, fields } = entry;
    expect(Object.keys(fields).sort()).toEqual(['aggregateId', 'aggregateType', 'database', 'event', 'eventId', 'type']);
    expect(fields).toMatchObject({ eventId: event.id, type, aggregateType: aggregate.type, aggregateId: String(aggregate.id) });
    expect(fields.database).toMatch(/^[0-9a-f]{16}$/);
    expect(Object.keys(event).sort()).toEqual(['aggregate', 'data', 'id', 'occurredAt', 'type', 'version']);
    expect(event.id).toMatch(UUID);
    expect(event).toMatchObject({ type, version: 1, aggregate: { type: aggregate.type, id: String(aggregate.id) } });
    expect(new Date(event.occurredAt).toISOString()).toBe(event.occurredAt);
    expect(Date.parse(event.occurredAt)).toBeGreaterThanOrEqual(window.from);
    expect(Date.parse(event.occurredAt)).toBeLessThanOrEqual(window.to);
    expect(event.data).toEqual(data);
    return entry;
  }

  /** Runs the mutation on replica A; returns its data and when it ran. */
  async function onA<Data>(query: string, variables: Record<string, unknown>, token: string) {
    const from = Date.now();
    const data = await mutate<Data>(pair.a, query, variables, token);
    return { data, window: { from, to: Date.now() } };
  }

  const productRow = async () => (await pair.database.db.select().from(products).where(eq(products.id, PRODUCT_ID)))[0]!;
  let orderId: number;
  let priceCents: number;

  it('placeOrder: the new order (even an id B had cached as absent), the order pages and the lower stock', async () => {
    const [{ maxId }] = (await pair.database.db.select({ maxId: sql<number>`max(${orders.id})::int` }).from(orders)) as [{ maxId: number }];
    orderId = maxId + 1;
    const before = await warm(pair.b, orderId);
    expect(before.customer.order).toBeNull();
    expect(before.admin.order).toBeNull();
    expect(before.customer.product.stock).toBe(STOCK);
    priceCents = before.customer.product.priceCents;
    const streamStart = await streamTail(redis, pair.redis.keys.stream('orders'));

    const { data, window } = await onA<{ placeOrder: OrderData }>(PLACE_ORDER, { input: { items: [line(PRODUCT_ID, 2)] } }, aliceToken);
    expect(data.placeOrder.id).toBe(String(orderId));

    const after = await readAfter(orderId);
    expect(after.customer.order).toMatchObject({ id: String(orderId), status: 'PENDING', totalCents: 2 * priceCents });
    expect(after.customer.order!.items).toEqual([
      { quantity: 2, unitPriceCents: priceCents, product: expect.objectContaining({ stock: STOCK - 2 }) },
    ]);
    expect(idsOf(after.customer.orders)[0]).toBe(String(orderId));
    expect(idsOf(after.customer.pending)[0]).toBe(String(orderId));
    expect(idsOf(after.admin.orders)[0]).toBe(String(orderId));
    expect(after.admin.order).toMatchObject({ status: 'PENDING', user: { name: alice.name } });
    expect(after.customer.product.stock).toBe(STOCK - 2);
    expect(after.customer.products.edges.find((edge) => edge.node.id === String(PRODUCT_ID))!.node.stock).toBe(STOCK - 2);

    await theNewEvent('orders', streamStart, 'OrderPlaced', { type: 'Order', id: orderId }, {
      orderId,
      userId: ALICE_ID,
      status: 'PENDING',
      totalCents: 2 * priceCents,
      items: [{ productId: PRODUCT_ID, quantity: 2, unitPriceCents: priceCents }],
    }, window);
  });

  it('payOrder: PAID in order(id) and in every page, filtered pages included', async () => {
    const before = await warm(pair.b, orderId);
    expect(idsOf(before.customer.paid)).not.toContain(String(orderId));
    const streamStart = await streamTail(redis, pair.redis.keys.stream('orders'));

    const { data, window } = await onA<{ payOrder: OrderData }>(PAY_ORDER, { id: String(orderId) }, aliceToken);
    expect(data.payOrder.status).toBe('PAID');

    const after = await readAfter(orderId);
    expect(after.customer.order).toMatchObject({ status: 'PAID', updatedAt: data.payOrder.updatedAt });
    expect(after.customer.order!.updatedAt).not.toBe(before.customer.order!.updatedAt);
    expect(after.customer.orders.edges[0]!.node).toMatchObject({ id: String(orderId), status: 'PAID' });
    expect(idsOf(after.customer.pending)).not.toContain(String(orderId));
    expect(idsOf(after.customer.paid)).toContain(String(orderId));
    expect(after.admin.order!.status).toBe('PAID');
    expect(after.admin.orders.edges[0]!.node).toEqual({ id: String(orderId), status: 'PAID' });

    await theNewEvent('orders', streamStart, 'OrderPaid', { type: 'Order', id: orderId }, { orderId, userId: ALICE_ID, status: 'PAID' }, window);
  });

  it('shipOrder: SHIPPED for the customer and for the admin', async () => {
    await warm(pair.b, orderId);
    const streamStart = await streamTail(redis, pair.redis.keys.stream('orders'));

    const { data, window } = await onA<{ shipOrder: OrderData }>(SHIP_ORDER, { id: String(orderId) }, adminToken);
    expect(data.shipOrder.status).toBe('SHIPPED');

    const after = await readAfter(orderId);
    expect(after.customer.order!.status).toBe('SHIPPED');
    expect(after.customer.orders.edges[0]!.node).toMatchObject({ id: String(orderId), status: 'SHIPPED' });
    expect(idsOf(after.customer.paid)).not.toContain(String(orderId));
    expect(after.admin.order!.status).toBe('SHIPPED');

    await theNewEvent('orders', streamStart, 'OrderShipped', { type: 'Order', id: orderId }, { orderId, userId: ALICE_ID, status: 'SHIPPED' }, window);
  });

  it('cancelOrder: CANCELLED, and the stock it gave back, in the product, the catalogue page and the order items', async () => {
    const placed = await mutate<{ placeOrder: OrderData }>(pair.b, PLACE_ORDER, { input: { items: [line(PRODUCT_ID, 5)] } }, aliceToken);
    const cancelledId = Number(placed.placeOrder.id);
    await mutate(pair.b, PAY_ORDER, { id: String(cancelledId) }, aliceToken);
    const before = await warm(pair.b, cancelledId);
    expect(before.customer.order!.status).toBe('PAID');
    const stockBefore = before.customer.product.stock;
    const streamStart = await streamTail(redis, pair.redis.keys.stream('orders'));

    const { data, window } = await onA<{ cancelOrder: OrderData }>(CANCEL_ORDER, { id: String(cancelledId) }, aliceToken);
    expect(data.cancelOrder.status).toBe('CANCELLED');

    const after = await readAfter(cancelledId);
    expect(after.customer.order!.status).toBe('CANCELLED');
    expect(after.customer.order!.items[0]!.product.stock).toBe(stockBefore + 5);
    expect(after.customer.orders.edges[0]!.node).toMatchObject({ id: String(cancelledId), status: 'CANCELLED' });
    expect(idsOf(after.customer.paid)).not.toContain(String(cancelledId));
    expect(after.admin.order!.status).toBe('CANCELLED');
    expect(after.customer.product.stock).toBe(stockBefore + 5);
    expect(after.customer.products.edges.find((edge) => edge.node.id === String(PRODUCT_ID))!.node.stock).toBe(stockBefore + 5);

    await theNewEvent('orders', streamStart, 'OrderCancelled', { type: 'Order', id: cancelledId }, {
      orderId: cancelledId,
      userId: ALICE_ID,
      status: 'CANCELLED',
      previousStatus: 'PAID',
      items: [{ productId: PRODUCT_ID, quantity: 5, unitPriceCents: priceCents }],
    }, window);
  });

  it('restockProduct: the new stock in product(id), the catalogue page and the items of an order', async () => {
    const before = await warm(pair.b, orderId);
    const streamStart = await streamTail(redis, pair.redis.keys.stream('catalog'));

    const { data, window } = await onA<{ restockProduct: { stock: number } }>(RESTOCK_PRODUCT, { id: String(PRODUCT_ID), quantity: 25 }, adminToken);
    expect(data.restockProduct.stock).toBe(before.customer.product.stock + 25);

    const after = await readAfter(orderId);
    expect(after.customer.product.stock).toBe(before.customer.product.stock + 25);
    expect(after.customer.product.updatedAt).not.toBe(before.customer.product.updatedAt);
    expect(after.customer.products.edges.find((edge) => edge.node.id === String(PRODUCT_ID))!.node.stock).toBe(data.restockProduct.stock);
    expect(after.customer.order!.items[0]!.product.stock).toBe(data.restockProduct.stock);

    const row = await productRow();
    await theNewEvent('catalog', streamStart, 'ProductRestocked', { type: 'Product', id: PRODUCT_ID }, {
      productId: PRODUCT_ID,
      added: 25,
      stock: row.stock,
      version: row.version,
    }, window);
  });

  it('updateProduct: the new name and price everywhere the product appears', async () => {
    await warm(pair.b, orderId);
    const streamStart = await streamTail(redis, pair.redis.keys.stream('catalog'));
    const changes = { name: 'Renamed kettle', priceCents: priceCents + 100 };

    const { window } = await onA(UPDATE_PRODUCT, { id: String(PRODUCT_ID), input: changes }, adminToken);

    const after = await readAfter(orderId);
    expect(after.customer.product).toMatchObject(changes);
    expect(after.customer.products.edges.find((edge) => edge.node.id === String(PRODUCT_ID))!.node).toMatchObject(changes);
    expect(after.customer.order!.items[0]!.product).toMatchObject(changes);
    // The order keeps the price it was placed at.
    expect(after.customer.order!.items[0]!.unitPriceCents).toBe(priceCents);

    const row = await productRow();
    await theNewEvent('catalog', streamStart, 'ProductUpdated', { type: 'Product', id: PRODUCT_ID }, {
      productId: PRODUCT_ID,
      name: changes.name,
      description: row.description,
      priceCents: changes.priceCents,
      stock: row.stock,
      version: row.version,
    }, window);
  });

  it('updateProfile: the new name and email in me, user(id) and order { user }', async () => {
    await warm(pair.b, orderId);
    const streamStart = await streamTail(redis, pair.redis.keys.stream('users'));
    const changes = { name: 'Alice Renamed', email: 'alice.renamed@streamgate.dev' };

    const { window } = await onA(UPDATE_PROFILE, { input: changes }, aliceToken);

    const after = await readAfter(orderId);
    expect(after.customer.me).toEqual({ id: String(ALICE_ID), ...changes });
    expect(after.admin.user).toEqual({ id: String(ALICE_ID), ...changes });
    expect(after.admin.order!.user).toMatchObject(changes);

    const [row] = await pair.database.db.select().from(users).where(eq(users.id, ALICE_ID));
    await theNewEvent('users', streamStart, 'UserUpdated', { type: 'User', id: ALICE_ID }, {
      userId: ALICE_ID,
      ...changes,
      role: 'CUSTOMER',
      version: row!.version,
    }, window);
  });
});
