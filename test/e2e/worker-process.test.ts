// The worker as an operator runs it (`node -r ./scripts/register-swc.js src/worker.ts`): start-up
// failures print one line and exit 1; on PostgreSQL it applies events, SIGTERM lets it finish and
// exit 0, and `--rebuild top-products` rewrites the sorted set from Postgres and exits 0.
import { count, eq } from 'drizzle-orm';
import type { RedisClient } from '../../src/redis/client';
import { hashPassword } from '../../src/auth/password';
import { openDatabase, type Database } from '../../src/db/client';
import { notifications, orderItems, orders } from '../../src/db/schema';
import { seedDatabase } from '../../src/db/seed';
import { connectRedis } from '../../src/redis/connection';
import { createGatewayDatabase, type GatewayDatabase } from '../support/gateway-process';
import { startOwnRedisServer, startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import { runWorkerToExit, startWorkerProcess } from '../support/worker-process';
import { hasCaughtUp, orderEvent, publishEvents } from '../support/streams';
import { waitUntil } from '../../src/testing/wait';

const failFastMs = 15_000;
const stackTraceLine = /^\s+at /m;
/** Nothing listens here: a database that cannot be reached. */
const UNREACHABLE_DATABASE_URL = 'postgres://postgres@127.0.0.1:1/none';

const stderrLines = (stderr: string) => stderr.split('\n').filter((line) => line !== '');

describe('worker process start-up failures', () => {
  let testRedis: TestRedis;

  beforeAll(async () => {
    testRedis = await startTestRedis();
  });

  afterAll(async () => {
    await testRedis?.stop();
  });

  async function expectOneLineExit(env: Record<string, string>, mentions: string[], args: string[] = []) {
    const result = await runWorkerToExit({ env, args }, failFastMs);
    expect(result).toMatchObject({ code: 1, signal: null });
    const lines = stderrLines(result.stderr);
    expect(lines).toHaveLength(1);
    for (const text of mentions) expect(lines[0]).toContain(text);
    expect(result.stderr).not.toMatch(stackTraceLine);
  }

  it('refuses embedded PGlite, which only the gateway process may open', async () => {
    await expectOneLineExit({ ...testRedis.env }, ['DATABASE_URL', 'PGlite']);
  });

  it('names a bad setting', async () => {
    await expectOneLineExit({ ...testRedis.env, DATABASE_URL: UNREACHABLE_DATABASE_URL, WORKER_BATCH_SIZE: '0' }, ['WORKER_BATCH_SIZE']);
  });

  it('names what --rebuild accepts', async () => {
    await expectOneLineExit({ ...testRedis.env, DATABASE_URL: UNREACHABLE_DATABASE_URL }, ['--rebuild', 'top-products'], ['--rebuild', 'everything']);
  });

  it('names the Redis URL and how to fix it when Redis is unreachable', async () => {
    // A redis-server of its own whatever the topology: stopped at once, for an address nobody answers on.
    const closed = await startOwnRedisServer();
    await closed.stop();
    await expectOneLineExit({ REDIS_URL: closed.url, DATABASE_URL: UNREACHABLE_DATABASE_URL }, [closed.url, 'REDIS_URL', 'redis-server']);
  });

  it('names the database when PostgreSQL is unreachable', async () => {
    await expectOneLineExit({ ...testRedis.env, DATABASE_URL: UNREACHABLE_DATABASE_URL }, ['postgres://postgres@127.0.0.1:1/none', 'DATABASE_URL']);
  });
});

const describeOnPostgres = process.env.DATABASE_URL ? describe : describe.skip;

describeOnPostgres('worker process on PostgreSQL (skipped without DATABASE_URL: workers refuse embedded PGlite)', () => {
  let testRedis: TestRedis;
  let gatewayDatabase: GatewayDatabase;
  let database: Database;
  let redis: RedisClient;
  let env: Record<string, string>;

  beforeAll(async () => {
    testRedis = await startTestRedis();
    gatewayDatabase = await createGatewayDatabase();
    database = await openDatabase({ databaseUrl: gatewayDatabase.env.DATABASE_URL, poolSize: 2 });
    await database.migrate();
    await seedDatabase(database.db, { users: 5, products: 6, orders: 60, hashPassword });
    redis = await connectRedis({ target: testRedis.target });
    env = { ...testRedis.env, ...(gatewayDatabase.env as Record<string, string>), WORKER_BLOCK_MS: '1000' };
  });

  afterAll(async () => {
    redis?.disconnect();
    await database?.close();
    await gatewayDatabase?.dispose();
    await testRedis?.stop();
  });

  it('applies published events, and on SIGTERM finishes and exits 0', async () => {
    const worker = await startWorkerProcess({ env: { ...env, WORKER_CONSUMER_NAME: 'solo' } });
    try {
      const events = [1, 2, 3].map((orderId) => orderEvent('OrderPaid', { orderId, userId: 1, status: 'PAID' }));
      const ids = await publishEvents(redis, testRedis.keys.stream('orders'), events);
      await waitUntil(() => hasCaughtUp(redis, testRedis.keys.stream('orders'), 'notifications', ids.at(-1)!), 'the notifications group has caught up');
      expect((await database.db.select({ value: count() }).from(notifications))[0]!.value).toBe(3);

      expect(await worker.stop('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(worker.logs().some((line) => line.msg === 'shutting down after the current batches')).toBe(true);
    } finally {
      await worker.kill();
    }
  });

  it('--rebuild top-products writes units sold per product from Postgres and exits 0', async () => {
    // An earlier test's worker bound Redis to this database.
    const bound = await testRedis.boundKeys(redis);
    await redis.zadd(bound.topProducts(), 12345, '1');
    const result = await runWorkerToExit({ env, args: ['--rebuild', 'top-products'] });
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.logs.find((line) => line.msg === 'rebuilt top products from Postgres')).toMatchObject({ products: expect.any(Number) });

    const items = await database.db.select().from(orderItems).innerJoin(orders, eq(orders.id, orderItems.orderId));
    const expected: Record<string, number> = {};
    for (const { order_items: item, orders: order } of items) {
      if (order.status !== 'CANCELLED') expected[item.productId] = (expected[item.productId] ?? 0) + item.quantity;
    }
    const reply = await redis.zrange(bound.topProducts(), 0, -1, 'WITHSCORES');
    const units: Record<string, number> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) units[reply[i]!] = Number(reply[i + 1]);
    expect(units).toEqual(expected);
  });
});
