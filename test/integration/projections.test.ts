// The projections as clients see them, through a real gateway (same redis-server, same database)
// while an in-process worker applies events XADDed in the documented layout: `notifications` and
// `markNotificationsRead` for the logged-in user only; `topProducts` ranked from the sorted set,
// which `--rebuild top-products` recomputes from Postgres to the same value, without losing or
// double-counting events that arrive around the rebuild; each consumer group's lag on /metrics.
import { eq, ne, sql } from 'drizzle-orm';
import type { RedisClient } from '../../src/redis/client';
import { orderItems, orders, outbox, type OrderStatus } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import type { DomainEvent, OrderLine } from '../../src/events/event-types';
import { createLogger } from '../../src/logger';
import { NOTIFICATIONS_GROUP } from '../../src/projections/notifications.projection';
import { startProjectionWorker, type ProjectionWorker } from '../../src/projections/projection-worker';
import { TOP_PRODUCTS_GROUP } from '../../src/projections/top-products.projection';
import { rebuildTopProducts } from '../../src/projections/top-products.rebuild';
import type { RedisKeys } from '../../src/redis/keys';
import { defineProjectionScripts } from '../../src/redis/scripts';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createOperationRunner, errorCodes } from '../support/operations';
import { hasCaughtUp, orderEvent, publishEvents } from '../support/streams';
import { redisConnections } from '../../src/testing/redis-topology';
import { waitUntil } from '../../src/testing/wait';

const [, alice, bob] = demoAccounts as [(typeof demoAccounts)[number], (typeof demoAccounts)[number], (typeof demoAccounts)[number]];
const ALICE_ID = 2;
const BOB_ID = 3;
/** The gateway's keys: the derived ones (top products) carry the identity of its database. */
let keys: RedisKeys;
/** The orders stream of the gateway's Redis; set in beforeAll. */
let ORDERS: string;

let gateway: TestGateway;
let execute: ReturnType<typeof createOperationRunner>;
let redis: RedisClient;
let worker: ProjectionWorker;
const connections = redisConnections(() => gateway.redis);
const connection = connections.open;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 12, orders: 150 } });
  execute = createOperationRunner(gateway.app);
  keys = gateway.app.keys;
  ORDERS = keys.stream('orders');
  redis = await connection();
  worker = await startProjectionWorker({
    db: gateway.database.db,
    redis: await connection(),
    openBlockingConnection: connection,
    keys,
    logger: createLogger('silent'),
    groups: [NOTIFICATIONS_GROUP, TOP_PRODUCTS_GROUP],
    consumer: 'projections-test',
    blockMs: 1000,
    claimIdleMs: 50,
  });
});

afterAll(async () => {
  await worker?.stop();
  connections.closeAll();
  await gateway?.stop();
});

/** Publishes the events and waits until both groups have applied and acknowledged them. */
async function publishAndApply(events: DomainEvent[]): Promise<void> {
  const ids = await publishEvents(redis, ORDERS, events);
  for (const group of [NOTIFICATIONS_GROUP, TOP_PRODUCTS_GROUP]) {
    await waitUntil(() => hasCaughtUp(redis, ORDERS, group, ids.at(-1)!), `${group} has acknowledged every entry`);
  }
}

async function insertOrder(userId: number, items: OrderLine[], status: OrderStatus = 'PENDING') {
  const totalCents = items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
  const [order] = await gateway.database.db.insert(orders).values({ userId, totalCents, status }).returning();
  if (items.length > 0) await gateway.database.db.insert(orderItems).values(items.map((item) => ({ ...item, orderId: order!.id })));
  return order!;
}

/** Units sold per product id as Postgres says: the items of orders not cancelled. */
async function unitsSoldInPostgres(): Promise<Record<string, number>> {
  const rows = await gateway.database.db
    .select({ productId: orderItems.productId, units: sql<string>`sum(${orderItems.quantity})` })
    .from(orderItems)
    .innerJoin(orders, eq(orders.id, orderItems.orderId))
    .where(ne(orders.status, 'CANCELLED'))
    .groupBy(orderItems.productId);
  return Object.fromEntries(rows.map((row) => [String(row.productId), Number(row.units)]));
}

async function unitsSoldInRedis(): Promise<Record<string, number>> {
  const reply = await redis.zrange(keys.topProducts(), 0, -1, 'WITHSCORES');
  const units: Record<string, number> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) units[reply[i]!] = Number(reply[i + 1]);
  return units;
}

/** The events the write path would have published for every order in the database. */
async function historyEvents(): Promise<DomainEvent[]> {
  const db = gateway.database.db;
  const allOrders = await db.select().from(orders).orderBy(orders.id);
  const allItems = await db.select().from(orderItems);
  return allOrders.flatMap((order) => {
    const items = allItems
      .filter((item) => item.orderId === order.id)
      .map(({ productId, quantity, unitPriceCents }) => ({ productId, quantity, unitPriceCents }));
    const base = { orderId: order.id, userId: order.userId };
    const placed = orderEvent('OrderPlaced', { ...base, status: 'PENDING', totalCents: order.totalCents, items });
    if (order.status !== 'CANCELLED') return [placed];
    return [placed, orderEvent('OrderCancelled', { ...base, status: 'CANCELLED', previousStatus: 'PENDING', items })];
  });
}

describe('notifications', () => {
  const NOTIFICATIONS = '{ notifications(first: 10) { edges { node { id kind message isRead order { id status } } } pageInfo { hasNextPage } } }';
  const UNREAD = 'query { notifications(unreadOnly: true) { edges { node { id kind } } } }';
  const MARK_READ = 'mutation ($ids: [ID!]) { markNotificationsRead(ids: $ids) }';

  type NotificationsData = { notifications: { edges: Array<{ node: { id: string; kind: string; message: string; isRead: boolean; order: { id: string } } }> } };

  it("lists the logged-in user's notifications, newest first, and marks only their own read", async () => {
    const aliceOrder = await insertOrder(ALICE_ID, []);
    const bobOrder = await insertOrder(BOB_ID, []);
    await publishAndApply([
      orderEvent('OrderPaid', { orderId: aliceOrder.id, userId: ALICE_ID, status: 'PAID' }),
      orderEvent('OrderPaid', { orderId: bobOrder.id, userId: BOB_ID, status: 'PAID' }),
      orderEvent('OrderShipped', { orderId: aliceOrder.id, userId: ALICE_ID, status: 'SHIPPED' }),
    ]);
    const aliceToken = await gateway.login(alice.email, alice.password);
    const bobToken = await gateway.login(bob.email, bob.password);

    const listed = await execute<NotificationsData>(NOTIFICATIONS, undefined, aliceToken);
    expect(listed.errors).toBeUndefined();
    const aliceNodes = listed.data!.notifications.edges.map((edge) => edge.node);
    expect(aliceNodes).toEqual([
      { id: expect.any(String), kind: 'ORDER_SHIPPED', message: `Your order #${aliceOrder.id} has shipped.`, isRead: false, order: { id: String(aliceOrder.id), status: 'PENDING' } },
      { id: expect.any(String), kind: 'ORDER_PAID', message: expect.stringContaining(`#${aliceOrder.id}`), isRead: false, order: { id: String(aliceOrder.id), status: 'PENDING' } },
    ]);
    const [bobNode] = (await execute<NotificationsData>(NOTIFICATIONS, undefined, bobToken)).data!.notifications.edges.map((edge) => edge.node);

    // Bob's notification is not Alice's to mark: nothing changes.
    expect((await execute(MARK_READ, { ids: [bobNode!.id] }, aliceToken)).data).toEqual({ markNotificationsRead: 0 });
    expect((await execute<NotificationsData>(UNREAD, undefined, bobToken)).data!.notifications.edges).toHaveLength(1);

    expect((await execute(MARK_READ, { ids: [aliceNodes[1]!.id] }, aliceToken)).data).toEqual({ markNotificationsRead: 1 });
    expect((await execute(MARK_READ, { ids: [aliceNodes[1]!.id] }, aliceToken)).data).toEqual({ markNotificationsRead: 0 });
    const unread = await execute<NotificationsData>(UNREAD, undefined, aliceToken);
    expect(unread.data!.notifications.edges.map((edge) => edge.node.kind)).toEqual(['ORDER_SHIPPED']);
    expect((await execute(MARK_READ, {}, aliceToken)).data).toEqual({ markNotificationsRead: 1 });
    expect((await execute<NotificationsData>(UNREAD, undefined, aliceToken)).data!.notifications.edges).toEqual([]);
  });

  it('requires a session, and well-formed ids', async () => {
    expect(errorCodes(await execute(NOTIFICATIONS))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await execute(MARK_READ, { ids: ['1'] }))).toEqual(['UNAUTHENTICATED']);
    const token = await gateway.login(alice.email, alice.password);
    expect(errorCodes(await execute(MARK_READ, { ids: ['abc'] }, token))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('/metrics', () => {
  /** The samples of one metric, by their labels as written (`stream="orders",group="notifications"`). */
  async function samples(name: string): Promise<Record<string, number>> {
    const text = await (await fetch(new URL('/metrics', gateway.url))).text();
    const found: Record<string, number> = {};
    for (const match of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) found[match[1]!] = Number(match[2]);
    return found;
  }

  it("shows each consumer group's lag (entries not delivered yet) and pending entries", async () => {
    const order = await insertOrder(ALICE_ID, []);
    await publishAndApply([orderEvent('OrderPaid', { orderId: order.id, userId: ALICE_ID, status: 'PAID' })]);
    // A group that has read one entry and acknowledged none. (Created at "0": Redis 7.0 cannot
    // tell the lag of a group created at "$" until it has caught up once, and the gauge omits it.)
    await redis.xgroup('CREATE', ORDERS, 'audit', '0');
    await redis.xreadgroup('GROUP', 'audit', 'auditor', 'COUNT', 1, 'STREAMS', ORDERS, '>');

    expect(await samples('streamgate_consumer_group_lag')).toEqual({
      'stream="orders",group="notifications"': 0,
      'stream="orders",group="top-products"': 0,
      'stream="orders",group="audit"': (await redis.xlen(ORDERS)) - 1,
    });
    expect(await samples('streamgate_consumer_group_pending')).toEqual({
      'stream="orders",group="notifications"': 0,
      'stream="orders",group="top-products"': 0,
      'stream="orders",group="audit"': 1,
    });
    await redis.xgroup('DESTROY', ORDERS, 'audit');
  });
});

describe('topProducts', () => {
  const TOP_PRODUCTS = 'query ($limit: Int) { topProducts(limit: $limit) { unitsSold product { id name } } }';
  type TopProductsData = { topProducts: Array<{ unitsSold: number; product: { id: string; name: string } }> };

  it('ranks products by units sold in orders not cancelled, counting a duplicated event once', async () => {
    const history = await historyEvents();
    // The relay's at-least-once publication: one OrderPlaced twice in the stream.
    const duplicated = history.find((event) => event.type === 'OrderPlaced' && (event.data as { items: unknown[] }).items.length > 0)!;
    await publishAndApply([...history, duplicated]);

    const expected = await unitsSoldInPostgres();
    expect(Object.keys(expected).length).toBeGreaterThan(5);
    expect(await unitsSoldInRedis()).toEqual(expected);

    const result = await execute<TopProductsData>(TOP_PRODUCTS, { limit: 5 });
    expect(result.errors).toBeUndefined();
    const top = result.data!.topProducts;
    expect(top.map((entry) => entry.unitsSold)).toEqual(Object.values(expected).sort((a, b) => b - a).slice(0, 5));
    for (const entry of top) expect(entry.unitsSold).toBe(expected[entry.product.id]);
    expect(top.every((entry) => entry.product.name.length > 0)).toBe(true);
    expect(errorCodes(await execute(TOP_PRODUCTS, { limit: 0 }))).toEqual(['BAD_USER_INPUT']);
  });

  it('takes a cancellation off again', async () => {
    const items = [{ productId: 1, quantity: 7, unitPriceCents: 100 }];
    const order = await insertOrder(BOB_ID, items);
    const before = (await unitsSoldInRedis())['1'] ?? 0;
    await publishAndApply([orderEvent('OrderPlaced', { orderId: order.id, userId: BOB_ID, status: 'PENDING', totalCents: 700, items })]);
    expect((await unitsSoldInRedis())['1']).toBe(before + 7);

    await gateway.database.db.update(orders).set({ status: 'CANCELLED' }).where(eq(orders.id, order.id));
    await publishAndApply([orderEvent('OrderCancelled', { orderId: order.id, userId: BOB_ID, status: 'CANCELLED', previousStatus: 'PENDING', items })]);
    expect(await unitsSoldInRedis()).toEqual(await unitsSoldInPostgres());
  });

  it('rebuilds to the same set as the incremental projection, and corrects a damaged one', async () => {
    const incremental = await unitsSoldInRedis();
    expect(incremental).toEqual(await unitsSoldInPostgres());
    await redis.zadd(keys.topProducts(), 999, '1', 5, '424242');

    const summary = await rebuildTopProducts({ db: gateway.database.db, redis: defineProjectionScripts(await connection()), keys });

    expect(await unitsSoldInRedis()).toEqual(incremental);
    expect(summary).toMatchObject({ products: Object.keys(incremental).length, units: Object.values(incremental).reduce((a, b) => a + b, 0) });
    expect(await redis.exists(keys.topProductsRebuildLock())).toBe(0);
  });

  it('applies nothing while a rebuild holds the lock, then applies the waiting event once', async () => {
    const items = [{ productId: 2, quantity: 3, unitPriceCents: 100 }];
    const order = await insertOrder(ALICE_ID, items);
    await redis.set(keys.topProductsRebuildLock(), 'a rebuild in progress', 'PX', 60_000);
    const runner = worker.runners.get(TOP_PRODUCTS_GROUP)!;
    const retried = new Promise<Error>((resolve) => runner.once('error', resolve));
    const before = await unitsSoldInRedis();

    const [id] = await publishEvents(redis, ORDERS, [orderEvent('OrderPlaced', { orderId: order.id, userId: ALICE_ID, status: 'PENDING', totalCents: 300, items })]);
    expect((await retried).name).toBe('TopProductsRebuildingError');
    expect(await unitsSoldInRedis()).toEqual(before);

    await redis.del(keys.topProductsRebuildLock());
    await waitUntil(() => hasCaughtUp(redis, ORDERS, TOP_PRODUCTS_GROUP, id!), 'top-products has acknowledged the entry');
    expect(await unitsSoldInRedis()).toEqual(await unitsSoldInPostgres());
    expect(await redis.exists(keys.deadLetterStream('orders'))).toBe(0);
  });

  it('counts an event committed before the rebuild but published after it exactly once', async () => {
    // The order and its outbox row committed; the relay has not published the event yet.
    const items = [{ productId: 3, quantity: 4, unitPriceCents: 100 }];
    const order = await insertOrder(ALICE_ID, items);
    const placed = orderEvent('OrderPlaced', { orderId: order.id, userId: ALICE_ID, status: 'PENDING', totalCents: 400, items });
    await gateway.database.db.insert(outbox).values({
      eventId: placed.id,
      stream: 'orders',
      type: placed.type,
      aggregateType: 'Order',
      aggregateId: String(order.id),
      payload: placed,
      // Marked published, so the gateway's own relay leaves it to this test.
      publishedAt: new Date(),
    });

    await rebuildTopProducts({ db: gateway.database.db, redis: defineProjectionScripts(await connection()), keys });
    expect(await unitsSoldInRedis()).toEqual(await unitsSoldInPostgres());
    await publishAndApply([placed]);

    expect(await unitsSoldInRedis()).toEqual(await unitsSoldInPostgres());
  });
});
