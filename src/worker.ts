// The worker process (`npm run worker`): consumer groups over the domain streams that keep the
// projections (notifications, top products) up to date. Run as many as you like: the workers of a
// group share its entries, and take over those of a worker that died. SIGTERM/SIGINT let the
// current batches finish, then exit 0.
//
// `npm run worker -- --rebuild top-products` recomputes the top-products set from Postgres and exits.
// Start-up failures a user can fix (bad config, no Redis, no PostgreSQL) print one line.
// Tracing starts first, when configured: its instrumentations patch pg and ioredis as they load.
import './observability/tracing.worker';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { RedisClient } from './redis/client';
import { ConfigError, loadConfig, type Config } from './config';
import { describeError } from './errors';
import type { Database } from './db/client';
import { createLogger, type Logger } from './logger';
import { DatabaseUnreachableError, exitOnShutdownSignal, exitWith, openMigratedDatabase } from './process';
import { startProjectionWorker } from './projections/projection-worker';
import { rebuildTopProducts } from './projections/top-products.rebuild';
import { closeRedisConnections, connectRedis, REDIS_START_HINT, RedisUnreachableError } from './redis/connection';
import { defineEventScripts, defineProjectionScripts } from './redis/scripts';
import { DatabaseIdentity } from './events/database-identity';
import { stopTracing } from './observability/tracing';

const PROCESS_NAME = 'streamgate worker';
const REBUILDABLE = ['top-products'] as const;

class StartupError extends Error {
  override readonly name = 'StartupError';
}

function parseCommandLine(): { rebuild: (typeof REBUILDABLE)[number] | undefined } {
  const { values } = parseArgs({ options: { rebuild: { type: 'string' } } });
  const rebuild = values.rebuild;
  if (rebuild !== undefined && !(REBUILDABLE as readonly string[]).includes(rebuild)) {
    throw new StartupError(`--rebuild must be one of: ${REBUILDABLE.join(', ')}; got "${rebuild}"`);
  }
  return { rebuild: rebuild as (typeof REBUILDABLE)[number] | undefined };
}

async function connect(config: Config, role: string): Promise<RedisClient> {
  // One attempt per command during an outage: the loops see the error, log it and back off.
  return connectRedis(
    { target: config.redisTarget, connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS, connectionName: `streamgate:worker:${role}` },
    { maxRetriesPerRequest: 1 },
  );
}

function watchConnection(connection: RedisClient, role: string, logger: Logger): RedisClient {
  connection.on('error', (error) => logger.warn({ role, reason: describeError(error) }, 'Redis connection lost; reconnecting'));
  return connection;
}

async function main(): Promise<void> {
  let config: Config;
  let rebuild: (typeof REBUILDABLE)[number] | undefined;
  try {
    config = loadConfig();
    ({ rebuild } = parseCommandLine());
  } catch (error) {
    if (error instanceof ConfigError || error instanceof StartupError) exitWith(PROCESS_NAME, error.message);
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) exitWith(PROCESS_NAME, error.message);
    throw error;
  }
  if (!config.DATABASE_URL) {
    exitWith(
      PROCESS_NAME,
      'workers need PostgreSQL: set DATABASE_URL. The embedded PGlite database (PGLITE_DIR) can be opened by one process ' +
        'only, the gateway.',
    );
  }
  const logger = createLogger(config.LOG_LEVEL).child({ process: 'worker' });

  const connections: RedisClient[] = [];
  let database: Database;
  try {
    connections.push(watchConnection(await connect(config, 'command'), 'command', logger));
    // The same database and migrations as the gateway.
    database = await openMigratedDatabase({ config, logger, unreachableHint: 'Start PostgreSQL there or fix DATABASE_URL.' });
  } catch (error) {
    await closeRedisConnections(connections);
    if (error instanceof RedisUnreachableError) exitWith(PROCESS_NAME, `${error.message}. ${REDIS_START_HINT}`);
    if (error instanceof DatabaseUnreachableError) exitWith(PROCESS_NAME, error.message);
    throw error;
  }
  const [redis] = connections as [RedisClient];
  // Projections are derived from the data: their keys carry the database identity, and a worker
  // whose database is replaced (a seed, a restore) switches to the new one's (DatabaseIdentity).
  const identity = new DatabaseIdentity({
    database,
    redis: defineEventScripts(redis),
    derivedStateConnections: [redis],
    prefix: config.REDIS_PREFIX,
    logger,
    streamMaxLength: config.EVENT_STREAM_MAXLEN,
    pollIntervalMs: config.DATABASE_IDENTITY_CHECK_MS,
  });
  const closeEverything = async () => {
    await identity.stop();
    await closeRedisConnections(connections);
    await database.close();
  };
  try {
    await identity.start();
  } catch (error) {
    await closeEverything();
    exitWith(PROCESS_NAME, `cannot bind Redis to the database: ${describeError(error)}`);
  }
  const { keys } = identity;

  if (rebuild === 'top-products') {
    try {
      const startedAt = Date.now();
      const summary = await rebuildTopProducts({ db: database.db, redis: defineProjectionScripts(redis), keys });
      logger.info({ ...summary, durationMs: Date.now() - startedAt }, 'rebuilt top products from Postgres');
    } catch (error) {
      await closeEverything();
      exitWith(PROCESS_NAME, `rebuilding top products failed: ${describeError(error)}`);
    }
    await closeEverything();
    process.exit(0);
  }

  const consumer = config.WORKER_CONSUMER_NAME ?? `${hostname()}-${process.pid}`;
  const worker = await startProjectionWorker({
    db: database.db,
    redis,
    openBlockingConnection: async (group) => {
      const connection = watchConnection(await connect(config, `blocking:${group}`), `blocking:${group}`, logger);
      connections.push(connection);
      return connection;
    },
    keys,
    logger,
    groups: config.WORKER_GROUPS,
    currentDatabase: () => identity.current,
    consumer,
    batchSize: config.WORKER_BATCH_SIZE,
    blockMs: config.WORKER_BLOCK_MS,
    claimIdleMs: config.WORKER_CLAIM_IDLE_MS,
    maxDeliveries: config.WORKER_MAX_DELIVERIES,
  }).catch(async (error: unknown) => {
    await closeEverything();
    throw error;
  });
  logger.info({ groups: config.WORKER_GROUPS, consumer, database: database.kind }, 'Streamgate worker ready');

  exitOnShutdownSignal({
    logger,
    message: 'shutting down after the current batches',
    graceMs: config.SHUTDOWN_GRACE_MS,
    stop: () => worker.stop().then(closeEverything).then(stopTracing),
  });
}

main().catch((error: unknown) => {
  exitWith(PROCESS_NAME, `failed to start: ${describeError(error)}`);
});
