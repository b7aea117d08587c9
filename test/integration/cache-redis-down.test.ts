// A Redis outage makes the cache fail open: reads keep being answered from Postgres, without
// errors and without hanging, and then the cache is used again. (Writes made meanwhile are
// invalidated by the relay once Redis is back, before their events go out: outbox-redis-down.test.ts.)
// Public queries only: sessions live in Redis too.
import type { RedisClient } from '../../src/redis/client';
import { encodeCursor } from '../../src/modules/common/pagination';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { serverOf } from '../../src/testing/redis-topology';
import { createOperationRunner } from '../support/operations';

/** A bound on hanging (a read stuck behind a dead connection), not a speed target. */
const LIVENESS_BOUND_MS = 3000;

let gateway: TestGateway;
let execute: ReturnType<typeof createOperationRunner>;
let isRedisDown = false;

beforeAll(async () => {
  // Its own redis-server whatever the topology: the test kills and restarts it.
  gateway = await startTestGateway({ seed: { users: 10, products: 20, orders: 20 }, ownRedisServer: true });
  execute = createOperationRunner(gateway.app);
});

afterAll(async () => {
  // Stopping the app while Redis is down is another story; here a failed test must not leave it so.
  if (isRedisDown) await serverOf(gateway.redis).restart();
  await gateway?.stop();
});

const cacheConnection = (): RedisClient => gateway.app.redisConnections.cache;
const failOpens = () => gateway.app.cacheStats.total('failOpens');
const productHits = () => gateway.app.cacheStats.byType.get('Product')?.hits ?? 0;

async function killRedis(): Promise<void> {
  await serverOf(gateway.redis).kill();
  isRedisDown = true;
}

/** Restarts redis-server and waits until the cache connection is ready again. */
async function restartRedis(): Promise<void> {
  await serverOf(gateway.redis).restart();
  isRedisDown = false;
  const connection = cacheConnection();
  if (connection.status !== 'ready') await new Promise((resolve) => connection.once('ready', resolve));
}

/** Runs an anonymous query; returns its data, the SQL statements it ran and how long it took. */
async function timedQuery(query: string) {
  const statementsBefore = gateway.database.sqlStats.statements;
  const startedAt = performance.now();
  const result = await execute(query);
  return {
    data: result.data,
    errors: result.errors,
    elapsedMs: performance.now() - startedAt,
    statements: gateway.database.sqlStats.statements - statementsBefore,
  };
}

const QUERIES = [
  '{ product(id: "1") { id name priceCents } }',
  '{ product(id: "2") { id name priceCents stock } }',
  '{ product(id: "9999") { id } }',
  '{ products(first: 5) { edges { node { id name } } pageInfo { hasNextPage endCursor } } }',
  `{ products(first: 3, after: "${encodeCursor(5)}") { edges { node { id name } } } }`,
];

it('answers every query from Postgres while Redis is down, then uses the cache again once it is back', async () => {
  const warm = new Map<string, unknown>();
  for (const query of QUERIES) {
    await timedQuery(query);
    const again = await timedQuery(query);
    expect(again.errors).toBeUndefined();
    expect(again.statements).toBe(0);
    warm.set(query, again.data);
  }

  await killRedis();
  const failOpensBefore = failOpens();
  for (const query of QUERIES) {
    const outage = await timedQuery(query);
    expect(outage.errors).toBeUndefined();
    expect(outage.data).toEqual(warm.get(query));
    expect(outage.statements).toBeGreaterThan(0);
    expect(outage.elapsedMs).toBeLessThan(LIVENESS_BOUND_MS);
  }
  expect(failOpens()).toBeGreaterThanOrEqual(failOpensBefore + QUERIES.length);

  await restartRedis();
  const product = QUERIES[0]!;
  const first = await timedQuery(product);
  expect(first.errors).toBeUndefined();
  const hitsBefore = productHits();
  const second = await timedQuery(product);
  expect(second.data).toEqual(warm.get(product));
  expect(second.statements).toBe(0);
  expect(productHits()).toBe(hitsBefore + 1);
});
