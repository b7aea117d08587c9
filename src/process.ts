// What the processes (main.ts and createApp, worker.ts, cli/seed.ts) share: one line on stderr for
// a start-up failure a user can fix, the migrated database, and the SIGTERM/SIGINT drain.
import { hashPassword } from './auth/password';
import { redactUrl, type Config } from './config';
import { openDatabase, type Database } from './db/client';
import { isDatabaseEmpty, seedDatabase } from './db/seed';
import { describeError } from './errors';
import type { Logger } from './logger';

export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

/** Prints `<processName>: <message>` (no stack trace) and exits 1. */
export function exitWith(processName: string, message: string): never {
  process.stderr.write(`${processName}: ${message}\n`);
  process.exit(1);
}

export interface MigratedDatabaseOptions {
  config: Config;
  logger: Logger;
  /** An open database to use instead of the one the config names (tests); its errors are rethrown as they are. */
  database?: Database;
  /** Seeds demo data into an empty database when config.SEED_DEMO_DATA (the gateway; workers never seed). @default false */
  isSeedingAllowed?: boolean;
  /** What a user whose DATABASE_URL does not answer can do, after "Cannot use the database at <url> (<reason>)." */
  unreachableHint: string;
}

/**
 * Opens the database the config names (PostgreSQL at DATABASE_URL, else the embedded PGlite) and
 * migrates it, which is safe from several processes at once. PostgreSQL that fails is a
 * DatabaseUnreachableError; PGlite's errors (e.g. PgliteDirLockedError) are rethrown as they are.
 */
export async function openMigratedDatabase({ config, logger, database: givenDatabase, isSeedingAllowed = false, unreachableHint }: MigratedDatabaseOptions): Promise<Database> {
  let database = givenDatabase;
  try {
    database ??= await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR, poolSize: config.DATABASE_POOL_SIZE });
    await database.migrate();
    if (isSeedingAllowed && config.SEED_DEMO_DATA && (await isDatabaseEmpty(database.db))) {
      const summary = await seedDatabase(database.db, { hashPassword });
      logger.info(summary, 'seeded demo data into the empty database');
    }
    return database;
  } catch (error) {
    if (givenDatabase || !config.DATABASE_URL) throw error;
    await database?.close().catch(() => undefined);
    throw new DatabaseUnreachableError(`Cannot use the database at ${redactUrl(config.DATABASE_URL)} (${describeError(error)}). ${unreachableHint}`);
  }
}

export interface ShutdownOptions {
  logger: Logger;
  /** What is logged on the signal. @default 'shutting down' */
  message?: string;
  /** After this long the process exits 1, whatever `stop` is still doing (config.SHUTDOWN_GRACE_MS). */
  graceMs: number;
  /** Drains and closes everything: the process exits 0 once it resolves, 1 if it rejects. */
  stop(): Promise<void>;
}

/** On the first SIGTERM or SIGINT: stop, then exit. */
export function exitOnShutdownSignal({ logger, message = 'shutting down', graceMs, stop }: ShutdownOptions): void {
  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, message);
    const forceExit = setTimeout(() => {
      logger.error('shutdown grace period elapsed; exiting');
      process.exit(1);
    }, graceMs);
    forceExit.unref();
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
