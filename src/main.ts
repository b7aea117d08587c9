// The gateway process: load config, build, listen; on SIGTERM/SIGINT drain and exit 0.
// Start-up failures a user can fix (bad config, no Redis) print one line, not a stack trace.
import 'reflect-metadata';
import { createApp, DatabaseUnreachableError, type App } from './app';
import { ConfigError, describeError, loadConfig } from './config';
import { PgliteDirLockedError } from './db/pglite-dir-lock';
import { REDIS_START_HINT, RedisUnreachableError } from './redis/connection';

function exitWith(message: string): never {
  process.stderr.write(`streamgate: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) exitWith(error.message);
    throw error;
  }

  let app: App;
  try {
    // On embedded PGlite no worker process can open the database, so the gateway runs the projections.
    app = await createApp({ config, runProjections: config.DATABASE_URL === undefined });
  } catch (error) {
    if (error instanceof RedisUnreachableError) exitWith(`${error.message}. ${REDIS_START_HINT}`);
    if (error instanceof DatabaseUnreachableError || error instanceof PgliteDirLockedError) exitWith(error.message);
    throw error;
  }

  const url = await app.listen();
  app.logger.info({ url, database: app.database.kind }, `Streamgate ready at ${url}`);

  const shutdown = (signal: NodeJS.Signals) => {
    app.logger.info({ signal }, 'shutting down');
    const forceExit = setTimeout(() => {
      app.logger.error('shutdown grace period elapsed; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS);
    forceExit.unref();
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  exitWith(`failed to start: ${describeError(error)}`);
});
