// Two real worker processes in one consumer group; the one holding a batch is killed with SIGKILL
// halfway through it: in the middle of the batch's transaction, which waits on a processed_events
// row the test holds. The other claims the dead worker's pending entries once they are idle for
// WORKER_CLAIM_IDLE_MS, every notification exists exactly once, the top-products set counts every
// order exactly once, and XPENDING drains to 0.
//
// PostgreSQL only: the two workers must share one database, and embedded PGlite belongs to one
// process. CI runs the suite a second time with DATABASE_URL, where this runs.
import { count, countDistinct, eq, sql } from 'drizzle-orm';
import type { RedisClient } from '../../src/redis/client';
import { hashPassword } from '../../src/auth/password';
import { openDatabase, type Database } from '../../src/db/client';
import { notifications, processedEvents } from '../../src/db/schema';
import { seedDatabase } from '../../src/db/seed';
import { connectRedis } from '../../src/redis/connection';
import { createGatewayDatabase, type GatewayDatabase } from '../support/gateway-process';
import { startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';
import { deferred, waitUntil } from '../../src/testing/wait';
import { hasCaughtUp, orderEvent, pendingCount, publishEvents } from '../support/streams';

const describeOnPostgres = process.env.DATABASE_URL ? describe : describe.skip;
const ORDER_COUNT = 200;
const USERS = 10;
const PRODUCTS = 5;

describeOnPostgres('two worker processes, one killed mid-batch (PostgreSQL only: PGlite cannot be shared by two processes)', () => {
  let testRedis: TestRedis;
  let gatewayDatabase: GatewayDatabase;
  let database: Database;
  let redis: RedisClient;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    testRedis = await startTestRedis();
    gatewayDatabase = await createGatewayDatabase();
    database = await openDatabase({ databaseUrl: gatewayDatabase.env.DATABASE_URL, poolSize: 2 });
    await database.migrate();
    await seedDatabase(database.db, { users: USERS, products: PRODUCTS, orders: 0, hashPassword });
    redis = await connectRedis({ target: testRedis.target });
  });

  afterAll(async () => {
    for (const worker of workers) await worker.kill();
    redis?.disconnect();
    await database?.close();
    await gatewayDatabase?.dispose();
    await testRedis?.stop();
  });

  it('lets the surviving worker take over: every notification once, top products exact, XPENDING back to 0', async () => {
    const ORDERS = testRedis.keys.stream('orders');
    const env = {
      ...testRedis.env,
      ...gatewayDatabase.env,
      // One batch holds every entry, so whoever reads first holds them all until it acknowledges.
      WORKER_BATCH_SIZE: '1000',
      WORKER_BLOCK_MS: '1000',
      WORKER_CLAIM_IDLE_MS: '500',
    };
    const names = ['worker-a', 'worker-b'];
    const byName = new Map<string, WorkerProcess>();
    await Promise.all(
      names.map(async (name) => {
        const worker = await startWorkerProcess({ env: { ...env, WORKER_CONSUMER_NAME: name } });
        workers.push(worker);
        byName.set(name, worker);
      }),
    );

    const placed = Array.from({ length: ORDER_COUNT }, (_, index) =>
      orderEvent('OrderPlaced', {
        orderId: 1000 + index,
        userId: 1 + (index % USERS),
        status: 'PENDING',
        totalCents: 100,
        items: [{ productId: 1 + (index % PRODUCTS), quantity: 1 + (index % 3), unitPriceCents: 100 }],
      }),
    );
    const paid = placed.map((event) => orderEvent('OrderPaid', { orderId: event.data.orderId, userId: event.data.userId, status: 'PAID' }));
    // Recorded, uncommitted, by the test: the batch's transaction waits on this row.
    const held = deferred();
    const release = deferred();
    const holding = database.db
      .transaction(async (tx) => {
        await tx.insert(processedEvents).values({ consumerGroup: 'notifications', eventId: paid[ORDER_COUNT / 2]!.id });
        held.resolve();
        await release.promise;
        tx.rollback();
      })
      .catch(() => undefined);
    await held.promise;
    const ids = await publishEvents(redis, ORDERS, placed.flatMap((event, index) => [event, paid[index]!]));

    // The holder of the batch is inside its transaction, waiting for the row.
    const isWaitingForLock = async () => {
      const waiting = sql`select count(*) as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      const { rows } = (await database.db.execute(waiting)) as unknown as { rows: Array<{ waiting: string }> };
      return Number(rows[0]?.waiting) > 0;
    };
    await waitUntil(isWaitingForLock, 'the batch transaction waits for the held row', 30_000, 5);
    const notificationCount = async () => (await database.db.select({ value: count() }).from(notifications))[0]!.value;
    const [, , , holders] = (await redis.xpending(ORDERS, 'notifications')) as [number, string, string, Array<[string, string]> | null];
    const [holder] = holders!.map(([name]) => name);
    const victim = byName.get(holder!)!;
    expect(await victim.kill()).toEqual({ code: null, signal: 'SIGKILL' });
    release.resolve();
    await holding;

    // Killed mid-batch: entries it had read but not acknowledged are still pending under its name.
    const [, , , pendingAfterKill] = (await redis.xpending(ORDERS, 'notifications')) as [number, string, string, Array<[string, string]> | null];
    expect(Number(new Map(pendingAfterKill ?? []).get(holder!) ?? 0)).toBeGreaterThan(0);
    expect(await notificationCount()).toBeLessThan(ORDER_COUNT);

    for (const group of ['notifications', 'top-products']) {
      await waitUntil(() => hasCaughtUp(redis, ORDERS, group, ids.at(-1)!), `${group} has acknowledged every entry`, 60_000);
      expect(await pendingCount(redis, ORDERS, group)).toBe(0);
    }

    const [totals] = await database.db
      .select({ rows: count(), events: countDistinct(notifications.eventId) })
      .from(notifications);
    expect(totals).toEqual({ rows: ORDER_COUNT, events: ORDER_COUNT });
    const stored = await database.db.select({ eventId: notifications.eventId }).from(notifications);
    expect(stored.map((row) => row.eventId).sort()).toEqual(paid.map((event) => event.id).sort());
    const [processed] = await database.db
      .select({ value: count() })
      .from(processedEvents)
      .where(eq(processedEvents.consumerGroup, 'notifications'));
    expect(processed!.value).toBe(ORDER_COUNT);

    const expectedUnits: Record<string, number> = {};
    for (const event of placed) {
      for (const item of event.data.items) expectedUnits[item.productId] = (expectedUnits[item.productId] ?? 0) + item.quantity;
    }
    // The workers bound Redis to this database: its derived keys carry that identity.
    const reply = await redis.zrange((await testRedis.boundKeys(redis)).topProducts(), 0, -1, 'WITHSCORES');
    const units: Record<string, number> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) units[reply[i]!] = Number(reply[i + 1]);
    expect(units).toEqual(expectedUnits);
    expect(await redis.exists(testRedis.keys.deadLetterStream('orders'))).toBe(0);
  });
});
