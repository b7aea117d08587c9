// The consumer-group runner against a real redis-server and a real database, fed with events XADDed
// straight into the stream in the documented layout (the relay is not under test here): a
// redelivered or duplicated event is applied once, a poison event ends in the dead-letter stream
// after WORKER_MAX_DELIVERIES deliveries while the rest keep flowing, a transient error does not
// spend deliveries, and stop() lets the current batch finish.
import { randomUUID } from 'node:crypto';
import { inArray, eq, and } from 'drizzle-orm';
import type { RedisClient } from '../../src/redis/client';
import { notifications, orders, processedEvents } from '../../src/db/schema';
import { ConsumerGroupRunner, type ConsumerGroupOptions, type DeliveryInfo, type EntryFailure, type EventHandler } from '../../src/events/consumer';
import type { DomainEvent } from '../../src/events/event-types';
import { createNotificationsBatchHandler, NOTIFICATIONS_GROUP } from '../../src/projections/notifications.projection';
import { oneAtATime } from '../../src/projections/projections';
import { startProjectionWorker, type ProjectionWorker } from '../../src/projections/projection-worker';
import type { RedisKeys } from '../../src/redis/keys';
import { createLogger } from '../../src/logger';
import { createTestDatabase, seedTestData, type TestDatabase } from '../support/database';
import { deferred, waitUntil } from '../../src/testing/wait';
import { redisConnections, startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import { entryFields, hasCaughtUp, orderEvent, pendingCount, publishEvents, readStreamFields } from '../support/streams';

/** The keys of the test's Redis (its prefix), and the orders stream among them; set in beforeAll. */
let keys: RedisKeys;
let ORDERS: string;
const ALICE_ID = 2;
/** Short, so a failed or crashed delivery comes round again within milliseconds. */
const CLAIM_IDLE_MS = 50;

let testRedis: TestRedis;
let database: TestDatabase;
let redis: RedisClient;
const connections = redisConnections(() => testRedis);
const connection = connections.open;
const stopAfterEach: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  testRedis = await startTestRedis();
  keys = testRedis.keys;
  ORDERS = keys.stream('orders');
  database = await createTestDatabase();
  await seedTestData(database, { users: 5, products: 5, orders: 0 });
  redis = await connection();
});

afterEach(async () => {
  for (const running of stopAfterEach.splice(0)) await running.stop();
});

afterAll(async () => {
  connections.closeAll();
  await database?.close();
  await testRedis?.stop();
});

async function startNotificationsWorker(consumer: string): Promise<ProjectionWorker> {
  const worker = await startProjectionWorker({
    db: database.db,
    redis: await connection(),
    openBlockingConnection: connection,
    keys,
    logger: createLogger('silent'),
    groups: [NOTIFICATIONS_GROUP],
    consumer,
    blockMs: 1000,
    claimIdleMs: CLAIM_IDLE_MS,
  });
  stopAfterEach.push(worker);
  return worker;
}

/** A runner over a stream of its own, with a handler under the test's control. */
async function startRunner(stream: string, handler: EventHandler, options: Partial<ConsumerGroupOptions> = {}) {
  const runner = new ConsumerGroupRunner({
    redis: await connection(),
    blockingRedis: await connection(),
    stream,
    deadLetterStream: `${stream}:dlq`,
    group: 'test-group',
    consumer: 'test-consumer',
    handler,
    blockMs: 1000,
    claimIdleMs: CLAIM_IDLE_MS,
    ...options,
  });
  await runner.start();
  stopAfterEach.push(runner);
  return runner;
}

const newStream = () => keys.stream(`test-${randomUUID()}`);

describe('notifications consumer group', () => {
  it('creates each notification exactly once when an event is delivered again or published twice', async () => {
    const [order] = await database.db.insert(orders).values({ userId: ALICE_ID, totalCents: 1000 }).returning();
    const paid = orderEvent('OrderPaid', { orderId: order!.id, userId: ALICE_ID, status: 'PAID' });
    const shipped = orderEvent('OrderShipped', { orderId: order!.id, userId: ALICE_ID, status: 'SHIPPED' });
    await redis.xgroup('CREATE', ORDERS, NOTIFICATIONS_GROUP, '0', 'MKSTREAM');
    // The same event twice in the stream (a republished entry), then the next one.
    const ids = await publishEvents(redis, ORDERS, [paid, paid, shipped]);

    // A consumer reads all three, applies the first, and crashes before its XACK.
    const read = (await redis.xreadgroup('GROUP', NOTIFICATIONS_GROUP, 'crashed', 'COUNT', 10, 'STREAMS', ORDERS, '>')) as unknown[];
    expect(read).toHaveLength(1);
    await oneAtATime(createNotificationsBatchHandler({ db: database.db }))(paid, { streamId: ids[0]!, deliveries: 1 });
    expect(await pendingCount(redis, ORDERS, NOTIFICATIONS_GROUP)).toBe(3);

    // Another worker claims the three idle entries: the applied event and its duplicate add nothing.
    await startNotificationsWorker('survivor');
    await waitUntil(() => hasCaughtUp(redis, ORDERS, NOTIFICATIONS_GROUP, ids[2]!), 'the group has acknowledged every entry');

    const rows = await database.db.select().from(notifications).where(inArray(notifications.eventId, [paid.id, shipped.id]));
    expect(rows.map((row) => [row.eventId, row.kind, row.userId, row.orderId]).sort()).toEqual(
      [
        [paid.id, 'ORDER_PAID', ALICE_ID, order!.id],
        [shipped.id, 'ORDER_SHIPPED', ALICE_ID, order!.id],
      ].sort(),
    );
    const processed = await database.db
      .select()
      .from(processedEvents)
      .where(and(eq(processedEvents.consumerGroup, NOTIFICATIONS_GROUP), inArray(processedEvents.eventId, [paid.id, shipped.id])));
    expect(processed).toHaveLength(2);
    expect(await pendingCount(redis, ORDERS, NOTIFICATIONS_GROUP)).toBe(0);
  });

  it('applies each event once when two workers of the group share the stream', async () => {
    const [order] = await database.db.insert(orders).values({ userId: ALICE_ID, totalCents: 500 }).returning();
    await startNotificationsWorker('worker-a');
    await startNotificationsWorker('worker-b');
    const events = Array.from({ length: 40 }, (_, index) =>
      orderEvent(index % 2 ? 'OrderShipped' : 'OrderPaid', { orderId: order!.id, userId: ALICE_ID, status: index % 2 ? 'SHIPPED' : 'PAID' }),
    );
    // One XADD per round trip, so both blocked workers get some.
    const ids: string[] = [];
    for (const event of events) ids.push(...(await publishEvents(redis, ORDERS, [event])));

    await waitUntil(() => hasCaughtUp(redis, ORDERS, NOTIFICATIONS_GROUP, ids.at(-1)!), 'the group has acknowledged every entry');
    const rows = await database.db.select().from(notifications).where(eq(notifications.orderId, order!.id));
    expect(rows.map((row) => row.eventId).sort()).toEqual(events.map((event) => event.id).sort());
  });
});

describe('ConsumerGroupRunner', () => {
  it('moves a poison entry to <stream>:dlq after maxDeliveries deliveries, with its error, while the rest keep flowing', async () => {
    const stream = newStream();
    const maxDeliveries = 3;
    const poison = orderEvent('OrderPaid', { orderId: 1, userId: 1, status: 'PAID' });
    const calls = new Map<string, DeliveryInfo[]>();
    const handled = (event: DomainEvent) => calls.get(event.id)?.length ?? 0;
    const runner = await startRunner(
      stream,
      async (event, delivery) => {
        calls.set(event.id, [...(calls.get(event.id) ?? []), delivery]);
        if (event.id === poison.id) throw new Error('cannot project this event');
      },
      { maxDeliveries },
    );
    const failures: EntryFailure[] = [];
    runner.on('failed', (failure) => failures.push(failure));
    const deadLettered: EntryFailure[] = [];
    const bothDeadLettered = deferred();
    runner.on('deadLettered', (failure) => deadLettered.push(failure) === 2 && bothDeadLettered.resolve());

    const before = orderEvent('OrderPaid', { orderId: 2, userId: 1, status: 'PAID' });
    const after = orderEvent('OrderShipped', { orderId: 2, userId: 1, status: 'SHIPPED' });
    const [, poisonId] = await publishEvents(redis, stream, [before, poison, after]);
    const unreadableId = await redis.xadd(stream, '*', 'eventId', 'x', 'event', '{not json');
    await bothDeadLettered.promise;

    expect(calls.get(poison.id)!.map((delivery) => delivery.deliveries)).toEqual([1, 2, 3]);
    expect(failures.map((failure) => [failure.eventId, failure.deliveries])).toEqual([
      [poison.id, 1],
      [poison.id, 2],
    ]);
    const dlq = (await readStreamFields(redis, `${stream}:dlq`)).map((entry) => entry.fields);
    expect(dlq).toEqual(
      expect.arrayContaining([
        {
          ...Object.fromEntries(pairs(entryFields(poison))),
          error: 'cannot project this event',
          group: 'test-group',
          consumer: 'test-consumer',
          deliveries: '3',
          streamId: poisonId,
        },
        expect.objectContaining({ eventId: 'x', event: '{not json', deliveries: '1', streamId: unreadableId }),
      ]),
    );
    expect(dlq).toHaveLength(2);
    expect(dlq.find((entry) => entry.eventId === 'x')!.error).toMatch(/^unreadable entry: "event" is not JSON/);

    // Still flowing: an entry published after the dead-lettering is handled at once, and nothing is pending.
    const later = orderEvent('OrderCancelled', { orderId: 2, userId: 1, status: 'CANCELLED', previousStatus: 'PAID', items: [] });
    const [laterId] = await publishEvents(redis, stream, [later]);
    await waitUntil(() => hasCaughtUp(redis, stream, 'test-group', laterId!), 'the runner has acknowledged the later entry');
    expect([before, after, later].map(handled)).toEqual([1, 1, 1]);
    expect(await pendingCount(redis, stream, 'test-group')).toBe(0);
  });

  it("keeps a failed statement's parameters out of the failure it reports and the dead-letter entry", async () => {
    const stream = newStream();
    const event = orderEvent('OrderPaid', { orderId: 3, userId: 1, status: 'PAID' });
    // As drizzle reports a failed statement: its parameters in the message and in `params`.
    const failedQuery = () =>
      Object.assign(new Error('Failed query: insert into notifications (email) values ($1)\nparams: erin@example.com'), {
        query: 'insert into notifications (email) values ($1)',
        params: ['erin@example.com'],
        cause: new Error('connection terminated'),
      });
    const runner = await startRunner(
      stream,
      async () => {
        throw failedQuery();
      },
      { maxDeliveries: 2 },
    );
    const reported: EntryFailure[] = [];
    const deadLettered = deferred();
    runner.on('failed', (failure) => reported.push(failure));
    runner.on('deadLettered', (failure) => reported.push(failure) && deadLettered.resolve());
    await publishEvents(redis, stream, [event]);
    await deadLettered.promise;

    expect(reported.map((failure) => failure.error)).toEqual([
      'Failed query: insert into notifications (email) values ($1) (connection terminated)',
      'Failed query: insert into notifications (email) values ($1) (connection terminated)',
    ]);
    const [dlq] = (await readStreamFields(redis, `${stream}:dlq`)).map((entry) => entry.fields);
    expect(dlq!.error).toBe(reported[1]!.error);
  });

  it('retries an entry in place while its error is transient, without spending deliveries', async () => {
    const stream = newStream();
    const attempts: DeliveryInfo[] = [];
    const runner = await startRunner(
      stream,
      async (_event, delivery) => {
        attempts.push(delivery);
        if (attempts.length <= 3) throw new Error('database unreachable');
      },
      { maxDeliveries: 1, isTransient: (error) => (error as Error).message === 'database unreachable' },
    );
    const failed = jest.fn();
    runner.on('failed', failed);
    runner.on('deadLettered', failed);

    const [id] = await publishEvents(redis, stream, [orderEvent('OrderPaid', { orderId: 3, userId: 1, status: 'PAID' })]);
    await waitUntil(() => hasCaughtUp(redis, stream, 'test-group', id!), 'the entry is acknowledged');

    expect(attempts.map((delivery) => delivery.deliveries)).toEqual([1, 1, 1, 1]);
    expect(failed).not.toHaveBeenCalled();
    expect(await redis.exists(`${stream}:dlq`)).toBe(0);
  });

  it('lets the current batch finish on stop(), acknowledges it, and reads nothing more', async () => {
    const stream = newStream();
    const firstStarted = deferred();
    const release = deferred();
    const handled: string[] = [];
    const runner = await startRunner(stream, async (event) => {
      if (handled.length === 0) {
        firstStarted.resolve();
        await release.promise;
      }
      handled.push(event.id);
    });
    const batch = [1, 2, 3].map((orderId) => orderEvent('OrderPaid', { orderId, userId: 1, status: 'PAID' }));
    await publishEvents(redis, stream, batch);
    await firstStarted.promise;

    const stopped = runner.stop();
    release.resolve();
    await stopped;

    expect(handled).toEqual(batch.map((event) => event.id));
    expect(await pendingCount(redis, stream, 'test-group')).toBe(0);
    const [laterId] = await publishEvents(redis, stream, [orderEvent('OrderPaid', { orderId: 4, userId: 1, status: 'PAID' })]);
    // A runner still blocked in XREADGROUP would have been handed the entry by the XADD itself.
    expect(await pendingCount(redis, stream, 'test-group')).toBe(0);
    expect(await hasCaughtUp(redis, stream, 'test-group', laterId!)).toBe(false);
    expect(handled).toHaveLength(3);
  });

  it('acknowledges without handling the entries of another database and the boundary of a replacement', async () => {
    const stream = newStream();
    const [old, unmarked, current] = [1, 2, 3].map((orderId) => orderEvent('OrderPaid', { orderId, userId: ALICE_ID, status: 'PAID' })) as [DomainEvent, DomainEvent, DomainEvent];
    const transaction = redis.multi();
    transaction.xadd(stream, '*', 'database', 'old-database', ...entryFields(old));
    transaction.xadd(stream, '*', 'type', 'DatabaseReplaced', 'database', 'new-database', 'previous', 'old-database');
    transaction.xadd(stream, '*', ...entryFields(unmarked));
    transaction.xadd(stream, '*', 'database', 'new-database', ...entryFields(current));
    const ids = ((await transaction.exec()) ?? []).map(([, id]) => String(id));
    const handled: string[] = [];
    const failures: EntryFailure[] = [];
    const runner = await startRunner(stream, async (event) => void handled.push(event.id), { currentDatabase: () => 'new-database' });
    runner.on('deadLettered', (failure) => failures.push(failure));
    await waitUntil(() => hasCaughtUp(redis, stream, 'test-group', ids.at(-1)!), 'the runner has acknowledged every entry');
    // The old database's event and the boundary are not applied (nor dead-lettered as unreadable).
    expect(handled).toEqual([unmarked.id, current.id]);
    expect(failures).toEqual([]);
    expect(await pendingCount(redis, stream, 'test-group')).toBe(0);
  });

  it('stops at once while blocked in XREADGROUP', async () => {
    const runner = await startRunner(newStream(), async () => undefined, { blockMs: 10_000, claimIdleMs: 60_000 });
    await waitUntil(async () => String(await redis.client('LIST')).includes('cmd=xreadgroup'), 'the runner is blocked in XREADGROUP');
    const startedAt = Date.now();
    await runner.stop();
    // CLIENT UNBLOCK, not the 10 s timeout, ended the read.
    expect(Date.now() - startedAt).toBeLessThan(2000);
  });
});

function pairs(fields: string[]): Array<[string, string]> {
  const result: Array<[string, string]> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) result.push([fields[i]!, fields[i + 1]!]);
  return result;
}
