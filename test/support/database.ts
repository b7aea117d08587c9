// A database of its own for each test file: in-memory PGlite by default; with DATABASE_URL set, a
// fresh PostgreSQL database created next to the one the URL names, dropped again on close. Either
// way a copy of the test kit's migrated template (src/testing/database.ts: made once, kept between
// runs), not a new database migrated per file.
import type { Database } from '../../src/db/client';
import { seedDatabase, type SeedOptions } from '../../src/db/seed';
import { hashPassword } from '../../src/auth/password';
import { databaseSource } from '../../src/testing/database';

export interface TestDatabase extends Database {
  /** The PostgreSQL URL of this database, for a second process to connect to; null on PGlite. */
  url: string | null;
}

/**
 * A migrated database with no rows: a copy of the test kit's migrated template (on PGlite, loading
 * its data directory instead of running initdb and the migrations per file).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const copy = await (await databaseSource([], process.env.DATABASE_URL, null)).copy();
  const close = copy.database.close;
  return Object.assign(copy.database, {
    url: copy.url,
    close: async () => {
      await close();
      await copy.discard();
    },
  });
}

/** The small deterministic data set the tests read (demo accounts are users 1-3). */
export function seedTestData(database: Database, sizes: Partial<Omit<SeedOptions, 'hashPassword'>> = {}) {
  return seedDatabase(database.db, { users: 20, products: 30, orders: 200, ...sizes, hashPassword });
}
