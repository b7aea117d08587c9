// `npm run seed -- --users N --products N --orders N [--seed S]`: migrates the configured database
// (PGlite at PGLITE_DIR, or DATABASE_URL) and replaces its shop data with a deterministic set.
// On PGlite it refuses while a gateway has the directory open (see db/pglite-dir-lock.ts).
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { hashPassword } from '../auth/password';
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from '../db/client';
import { PgliteDirLockedError } from '../db/pglite-dir-lock';
import { seedDatabase } from '../db/seed';
import { exitWith } from '../process';

/**
 * A progress line on a terminal (rewritten in place, at most every 100 ms); nothing when the output
 * is a file or a pipe, where the final summary line says it all.
 */
function progressLine(): { update(inserted: number, total: number): void; done(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, done: () => undefined };
  let shownAt = 0;
  return {
    update(inserted, total) {
      if (Date.now() - shownAt < 100 && inserted < total) return;
      shownAt = Date.now();
      const width = 30;
      const filled = Math.round((inserted / total) * width);
      process.stderr.write(`\rseeding [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${inserted.toLocaleString('en')} / ${total.toLocaleString('en')} rows`);
    },
    done: () => process.stderr.write('\n'),
  };
}

function count(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new ConfigError(`--${name} must be a whole number; got "${value}"`);
  return parsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string' },
      products: { type: 'string' },
      orders: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
  try {
    await database.migrate();
    const startedAt = Date.now();
    const progress = progressLine();
    const summary = await seedDatabase(database.db, {
      users: count('users', values.users),
      products: count('products', values.products),
      orders: count('orders', values.orders),
      seed: count('seed', values.seed),
      hashPassword,
      onProgress: progress.update,
    });
    progress.done();
    const target = config.DATABASE_URL ? 'PostgreSQL' : `PGlite at ${config.PGLITE_DIR}`;
    console.log(
      `seeded ${target}: ${summary.users} users, ${summary.products} products, ${summary.orders} orders, ` +
        `${summary.orderItems} order items in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  // Errors the user fixes (bad arguments, a gateway running on the same PGlite directory) are one line.
  const isUsageError =
    error instanceof ConfigError ||
    error instanceof PgliteDirLockedError ||
    (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'));
  exitWith('seed', isUsageError ? (error as Error).message : error instanceof Error ? String(error.stack) : String(error));
});
