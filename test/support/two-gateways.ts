// Two gateway replicas in the test process sharing one Redis (redis-topology.ts) and one database, as two
// replicas behind a load balancer would. On PGlite both apps use the same in-process database; on
// PostgreSQL (DATABASE_URL) the second replica opens a pool of its own to the same database.
import { openDatabase, type Database } from '../../src/db/client';
import { createTestDatabase, seedTestData, type TestDatabase } from './database';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './gateway';
import { startOwnRedisServer, startTestRedis, type TestRedis } from '../../src/testing/redis-topology';

export interface TwoGateways {
  a: TestGateway;
  b: TestGateway;
  redis: TestRedis;
  database: TestDatabase;
  /** SQL statements run so far by both replicas together (each distinct database handle counted once). */
  sqlStatements(): number;
  /** Stops both replicas, then closes the database(s) and stops the Redis this call started. */
  stop(): Promise<void>;
}

export interface TwoGatewaysOptions {
  /** Settings for both replicas. */
  env?: TestGatewayOptions['env'];
  /** Seed sizes of a new database (not used with `database`). */
  seed?: TestGatewayOptions['seed'];
  /** A Redis to share (e.g. another pair's); its owner stops it. @default startTestRedis() */
  redis?: TestRedis;
  /** Start a redis-server of the pair's own whatever the topology, for tests that reconfigure or disrupt it. @default false */
  ownRedisServer?: boolean;
  /** A seeded database to share (e.g. another pair's); its owner closes it. @default a new, seeded one */
  database?: TestDatabase;
}

/** The app closes the database it was given on stop; this one is closed by whoever owns it instead. */
export function withoutClose(database: TestDatabase): TestDatabase {
  return { ...database, close: async () => undefined };
}

export async function startTwoGateways(options: TwoGatewaysOptions = {}): Promise<TwoGateways> {
  const redis = options.redis ?? (options.ownRedisServer ? await startOwnRedisServer() : await startTestRedis());
  const owned: Database[] = [];
  const started: TestGateway[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.allSettled(started.map((gateway) => gateway.stop()));
      for (const database of owned.reverse()) await database.close();
      if (!options.redis) await redis.stop();
    })());
  try {
    let database = options.database;
    if (!database) {
      database = await createTestDatabase();
      owned.push(database);
      await seedTestData(database, options.seed);
    }
    let databaseOfB: TestDatabase = database;
    if (database.url) {
      const pool = await openDatabase({ databaseUrl: database.url, poolSize: 5 });
      owned.push(pool);
      databaseOfB = Object.assign(pool, { url: database.url });
    }
    const a = await startTestGateway({ env: options.env, redis, database: withoutClose(database) });
    started.push(a);
    const b = await startTestGateway({ env: options.env, redis, database: withoutClose(databaseOfB) });
    started.push(b);
    const counters = [...new Set([a.app.database.sqlStats, b.app.database.sqlStats])];
    return {
      a,
      b,
      redis,
      database,
      sqlStatements: () => counters.reduce((sum, counter) => sum + counter.statements, 0),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
