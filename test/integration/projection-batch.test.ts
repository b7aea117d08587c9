// Worker throughput, the correctness half (the speed half is `npm run bench:write`): the runner
// hands each batch read from the stream to the projections' batch handlers, which apply 1,000
// events in one transaction (notifications) and one pipeline (top products), exactly once. The
// same entries delivered again (re-claimed after a worker crashed before its XACK, or published
// twice) change nothing, a batch of which a crashed worker had already applied a part applies
// exactly the rest, and an event that breaks its batch's transaction fails alone. Real
// redis-server, real database (PGlite, or PostgreSQL with DATABASE_URL).
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { RedisClient } from '../../src/redis/client';
import { notifications, outbox, processedEvents, users } from '../../src/db/schema';
import type { DomainEvent, OrderLine } from '../../src/events/event-types';
import { NOTIFICATIONS_GROUP } from '../../src/projections/notifications.projection';
import { startProjectionWorker, type ProjectionWorker } from '../../src/projections/projection-worker';
import { createProjection, PROJECTION_NAMES, type ProjectionDeps } from '../../src/projections/projections';
import { unitChangesOf } from '../../src/projections/top-products.projection';
import { createRedisKeys, type RedisKeys } from '../../src/redis/keys';
import { defineProjectionScripts } from '../../src/redis/scripts';
import { recordingLogger } from '../support/gateway';
import { createTestDatabase, seedTestData, type TestDatabase } from '../support/database';
import { redisConnections, startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import { hasCaughtUp, orderEvent, pendingCount, publishEvents, readStreamFields } from '../support/streams';
import { waitUntil } from '../../src/testing/wait';

const EVENTS = 1000;
/** Short, so entries a crashed consumer left pending are claimed within milliseconds. */
const CLAIM_IDLE_MS = 50;
const NOTIFIED_TYPES = new Set(['OrderPaid', 'OrderShipped', 'OrderCancelled']);

let testRedis: TestRedis;
let database: TestDatabase;
let redis: RedisClient;
let userIds: number[];
const connections = redisConnections(() => testRedis);
const connection = connections.open;
const running: ProjectionWorker[] = [];
/** What the workers logged at info and above: a batch that fell back to one event at a time, a failure. */
const log = recordingLogger();
const logged = log.lines;
let testNumber = 0;

beforeAll(async () => {
  testRedis = await startTestRedis();
  database = await createTestDatabase();
  await seedTestData(database, { users: 10, products: 10, orders: 0 });
  userIds = (await database.db.select({ id: users.id }).from(users)).map((row) => row.id);
  redis = await connection();
});

afterEach(async () => {
  for (const worker of running.splice(0)) await worker.stop();
  logged.length = 0;
});

afterAll(async () => {
  connections.closeAll();
  await database?.close();
  await testRedis?.stop();
});

/** Keys of their own for each test (another prefix: other streams, another top-products set). */
function newKeys(): RedisKeys {
  testNumber += 1;
  return createRedisKeys(`${testRedis.prefix}batch${testNumber}`, () => 'projection-batch-test');
}

async function startWorker(keys: RedisKeys, maxDeliveries?: number): Promise<ProjectionWorker> {
  const worker = await startProjectionWorker({
    db: database.db,
    redis: await connection(),
    openBlockingConnection: connection,
    keys,
    logger: log.logger,
    groups: PROJECTION_NAMES,
    consumer: 'batch-worker',
    batchSize: EVENTS,
    blockMs: 1000,
    claimIdleMs: CLAIM_IDLE_MS,
    maxDeliveries,
  });
  running.push(worker);
  return worker;
}

/**
 * 1,000 order events, interleaved as a shop would write them: 500 orders placed (1 to 3 lines
 * each), 250 of them paid, 150 shipped, and 100 others cancelled.
 */
function orderHistory(firstOrderId: number): DomainEvent[] {
  const events: DomainEvent[] = [];
  for (let i = 0; i < 500; i++) {
    const orderId = firstOrderId + i;
    const userId = userIds[i % userIds.length]!;
    const items: OrderLine[] = Array.from({ length: 1 + (i % 3) }, (_, line) => ({
      productId: 1 + ((i * 7 + line * 3) % 10),
      quantity: 1 + ((i + line) % 4),
      unitPriceCents: 100,
    }));
    const totalCents = items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
    events.push(orderEvent('OrderPlaced', { orderId, userId, status: 'PENDING', totalCents, items }));
    if (i < 250) events.push(orderEvent('OrderPaid', { orderId, userId, status: 'PAID' }));
    if (i < 150) events.push(orderEvent('OrderShipped', { orderId, userId, status: 'SHIPPED' }));
    if (i >= 250 && i < 350) events.push(orderEvent('OrderCancelled', { orderId, userId, status: 'CANCELLED', previousStatus: 'PENDING', items }));
  }
  expect(events).toHaveLength(EVENTS);
  return events;
}

/** Units sold per product id if every event is applied once (a product back at 0 leaves the set). */
function expectedUnits(events: DomainEvent[]): Record<string, number> {
  const units = new Map<number, number>();
  for (const event of events) {
    for (const [productId, change] of unitChangesOf(event)) units.set(productId, (units.get(productId) ?? 0) + change);
  }
  return Object.fromEntries([...units].filter(([, count]) => count !== 0).map(([productId, count]) => [String(productId), count]));
}

async function unitsInRedis(keys: RedisKeys): Promise<Record<string, number>> {
  const reply = await redis.zrange(keys.topProducts(), 0, -1, 'WITHSCORES');
  const units: Record<string, number> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) units[reply[i]!] = Number(reply[i + 1]);
  return units;
}

async function waitUntilApplied(keys: RedisKeys, lastId: string): Promise<void> {
  for (const group of PROJECTION_NAMES) {
    await waitUntil(() => hasCaughtUp(redis, keys.stream('orders'), group, lastId), `${group} has acknowledged every entry`);
  }
}

/**
 * Every effect of the events, once (and of no other event of the stream): one notification per
 * paid/shipped/cancelled event, one processed_events row and one NotificationAdded outbox row for
 * each, the units in the sorted set. Resolves to the number of transactions that recorded them.
 */
async function expectAppliedOnce(keys: RedisKeys, events: DomainEvent[], allEvents = events): Promise<number> {
  const notified = events.filter((event) => NOTIFIED_TYPES.has(event.type));
  const notifiedIds = notified.map((event) => event.id);
  const kindOf = { OrderPaid: 'ORDER_PAID', OrderShipped: 'ORDER_SHIPPED', OrderCancelled: 'ORDER_CANCELLED' } as Record<string, string>;
  const { db } = database;

  const rows = await db.select().from(notifications).where(inArray(notifications.eventId, notifiedIds));
  expect(rows.map((row) => [row.eventId, row.kind, row.userId, row.orderId].join(' ')).sort()).toEqual(
    notified.map((event) => {
      const data = event.data as { orderId: number; userId: number };
      return [event.id, kindOf[event.type], data.userId, data.orderId].join(' ');
    }).sort(),
  );
  const processed = await db
    .select({ eventId: processedEvents.eventId, processedAt: processedEvents.processedAt })
    .from(processedEvents)
    .where(and(eq(processedEvents.consumerGroup, NOTIFICATIONS_GROUP), inArray(processedEvents.eventId, allEvents.map((event) => event.id))));
  expect(processed.map((row) => row.eventId).sort()).toEqual([...notifiedIds].sort());
  const notificationId = sql<number>`(${outbox.payload}->'data'->>'notificationId')::int`;
  const added = await db
    .select({ notificationId })
    .from(outbox)
    .where(and(eq(outbox.type, 'NotificationAdded'), inArray(notificationId, rows.map((row) => row.id))));
  expect(added.map((row) => Number(row.notificationId)).sort((a, b) => a - b)).toEqual(rows.map((row) => row.id).sort((a, b) => a - b));

  expect(await unitsInRedis(keys)).toEqual(expectedUnits(events));
  // now() is the transaction's start time: rows recorded by one transaction share it.
  return new Set(processed.map((row) => row.processedAt.getTime())).size;
}

/** Nothing pending, nothing dead-lettered, and no batch fell back to one event at a time. */
async function expectNothingLeft(keys: RedisKeys): Promise<void> {
  for (const group of PROJECTION_NAMES) expect(await pendingCount(redis, keys.stream('orders'), group)).toBe(0);
  expect(await redis.exists(keys.deadLetterStream('orders'))).toBe(0);
  expect(logged.map((line) => line.msg)).toEqual([]);
}

describe('the projections on a batch of 1,000 events', () => {
  it('apply it in one transaction, exactly once, and the same entries published again change nothing', async () => {
    const keys = newKeys();
    await startWorker(keys);
    const events = orderHistory(100_000);

    // One MULTI: the blocked XREADGROUP (COUNT 1000) of each group is handed all of them at once.
    const ids = await publishEvents(redis, keys.stream('orders'), events);
    await waitUntilApplied(keys, ids.at(-1)!);
    expect(await expectAppliedOnce(keys, events)).toBe(1);
    await expectNothingLeft(keys);

    // The relay's at-least-once publication: every event in the stream a second time.
    const againIds = await publishEvents(redis, keys.stream('orders'), events);
    await waitUntilApplied(keys, againIds.at(-1)!);
    expect(await expectAppliedOnce(keys, events)).toBe(1);
    await expectNothingLeft(keys);
  });

  it('re-claimed after a crash before XACK, apply exactly what the crashed worker had not', async () => {
    const keys = newKeys();
    const stream = keys.stream('orders');
    const events = orderHistory(200_000);
    for (const group of PROJECTION_NAMES) await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    const ids = await publishEvents(redis, stream, events);

    // A worker reads all 1,000 in each group, commits its batch for the first 500, and dies
    // before the XACK: every entry stays pending under its name.
    const deps: ProjectionDeps = { db: database.db, redis: defineProjectionScripts(await connection()), keys };
    for (const group of PROJECTION_NAMES) {
      await redis.xreadgroup('GROUP', group, 'crashed', 'COUNT', EVENTS, 'STREAMS', stream, '>');
      const firstHalf = events.slice(0, 500).map((event, index) => ({ event, delivery: { streamId: ids[index]!, deliveries: 1 } }));
      expect(await createProjection(group, deps).batchHandler(firstHalf)).toEqual(firstHalf.map(() => null));
      expect(await pendingCount(redis, stream, group)).toBe(EVENTS);
    }
    expect(await unitsInRedis(keys)).toEqual(expectedUnits(events.slice(0, 500)));

    // The next worker claims the idle entries, all 1,000 as one batch again, and applies the rest.
    await startWorker(keys);
    await waitUntilApplied(keys, ids.at(-1)!);
    // Two transactions: the crashed worker's and the re-claimed batch's.
    expect(await expectAppliedOnce(keys, events)).toBe(2);
    await expectNothingLeft(keys);
  });

  it('wait while a rebuild holds top products, then apply the batch once, without waiting once per event', async () => {
    const keys = newKeys();
    await redis.set(keys.topProductsRebuildLock(), 'a rebuild in progress', 'PX', 60_000);
    await startWorker(keys);
    const events = orderHistory(400_000);

    const ids = await publishEvents(redis, keys.stream('orders'), events);
    await waitUntil(async () => logged.length > 0, 'the worker retries after TopProductsRebuildingError');
    expect(await redis.exists(keys.topProducts())).toBe(0);
    await redis.del(keys.topProductsRebuildLock());

    // Each event that had to wait is tried again at once after the first one went through: a pause
    // per event (100 ms each) would take far longer than waitUntil's 30 s.
    await waitUntilApplied(keys, ids.at(-1)!);
    expect(await expectAppliedOnce(keys, events)).toBe(1);
    expect(new Set(logged.map((line) => line.msg))).toEqual(new Set(['consumer group: retrying after an error']));
  });

  it('hand the events of a batch that failed as a whole to the handler one at a time: the bad one fails alone', async () => {
    const keys = newKeys();
    await startWorker(keys, 2);
    const events = orderHistory(300_000);
    // Valid as an event, but no such user: its notification breaks the batch's transaction.
    const index = events.findIndex((event) => event.type === 'OrderPaid');
    const paid = events[index]!.data as { orderId: number };
    const bad = orderEvent('OrderPaid', { orderId: paid.orderId, userId: 999_999, status: 'PAID' });
    events[index] = bad;

    const ids = await publishEvents(redis, keys.stream('orders'), events);
    // Failed on its first delivery (alone, after the batch), dead-lettered on its second.
    await waitUntilApplied(keys, ids.at(-1)!);

    const good = events.filter((event) => event !== bad);
    expect(await expectAppliedOnce(keys, good, events)).toBeGreaterThan(1);
    const deadLettered = await readStreamFields(redis, keys.deadLetterStream('orders'));
    expect(deadLettered.map((entry) => entry.fields)).toEqual([
      expect.objectContaining({ eventId: bad.id, group: NOTIFICATIONS_GROUP, deliveries: '2', streamId: ids[index] }),
    ]);
    expect(logged.map((line) => line.msg)).toEqual([
      'batch failed; handling its events one at a time',
      'event handler failed; the entry will be delivered again',
      'entry moved to the dead-letter stream',
    ]);
  });
});
