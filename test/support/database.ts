// A database of its own for each test file: in-memory PGlite by default; with DATABASE_URL set, a
// fresh PostgreSQL database created next to the one the URL names, dropped again on close.
import { openDatabase, type Database } from '../../src/db/client';
import { seedDatabase, type SeedOptions } from '../../src/db/seed';
import { hashPassword } from '../../src/auth/password';
import { createScratchPostgresDatabase } from '../../src/testing/scratch-postgres';

export interface TestDatabase extends Database {
  /** The PostgreSQL URL of this database, for a second process to connect to; null on PGlite. */
  url: string | null;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const database = await openDatabase({ pgliteDir: 'memory://' });
    await database.migrate();
    return Object.assign(database, { url: null });
  }
  const scratch = await createScratchPostgresDatabase(baseUrl, `streamgate_test_${process.pid}`);
  const database = await openDatabase({ databaseUrl: scratch.url, poolSize: 5 });
  await database.migrate();
  const close = database.close;
  return Object.assign(database, {
    url: scratch.url,
    close: async () => {
      await close();
      await scratch.drop();
    },
  });
}

/** The small deterministic data set the tests read (demo accounts are users 1-3). */
export function seedTestData(database: Database, sizes: Partial<Omit<SeedOptions, 'hashPassword'>> = {}) {
  return seedDatabase(database.db, { users: 20, products: 30, orders: 200, ...sizes, hashPassword });
}
