// The gateway process: load config, build, listen; on SIGTERM/SIGINT drain and exit 0.
// Start-up failures a user can fix (bad config, no Redis) print one line, not a stack trace.
// Tracing starts first, when configured: its instrumentations patch http, pg, ioredis and graphql
// as they load.
import './observability/tracing.gateway';
import 'reflect-metadata';
import { createApp, type App } from './app';
import { ConfigError, loadConfig } from './config';
import { describeError } from './errors';
import { PgliteDirLockedError } from './db/pglite-dir-lock';
import { DatabaseUnreachableError, exitOnShutdownSignal, exitWith } from './process';
import { stopTracing } from './observability/tracing';
import { REDIS_START_HINT, RedisUnreachableError } from './redis/connection';

const PROCESS_NAME = 'streamgate';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) exitWith(PROCESS_NAME, error.message);
    throw error;
  }

  let app: App;
  try {
    // On embedded PGlite no worker process can open the database, so the gateway runs the projections.
    app = await createApp({ config, runProjections: config.DATABASE_URL === undefined });
  } catch (error) {
    if (error instanceof RedisUnreachableError) exitWith(PROCESS_NAME, `${error.message}. ${REDIS_START_HINT}`);
    if (error instanceof ConfigError || error instanceof DatabaseUnreachableError || error instanceof PgliteDirLockedError) exitWith(PROCESS_NAME, error.message);
    throw error;
  }

  const url = await app.listen();
  app.logger.info({ url, database: app.database.kind }, `Streamgate ready at ${url}`);

  exitOnShutdownSignal({ logger: app.logger, graceMs: config.SHUTDOWN_GRACE_MS, stop: () => app.stop().then(stopTracing) });
}

main().catch((error: unknown) => {
  exitWith(PROCESS_NAME, `failed to start: ${describeError(error)}`);
});
