// A database of its own for each test file: in-memory PGlite by default; with DATABASE_URL set, a
// fresh PostgreSQL database created next to the one the URL names, dropped again on close.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { openDatabase, type Database } from '../../src/db/client';
import { seedDatabase, type SeedOptions } from '../../src/db/seed';
import { hashPassword } from '../../src/auth/password';

export interface TestDatabase extends Database {
  /** The PostgreSQL URL of this database, for a second process to connect to; null on PGlite. */
  url: string | null;
}

async function adminQuery(url: string, statement: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const database = await openDatabase({ pgliteDir: 'memory://' });
    await database.migrate();
    return Object.assign(database, { url: null });
  }
  const name = `streamgate_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(baseUrl, `create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), poolSize: 5 });
  await database.migrate();
  const close = database.close;
  return Object.assign(database, {
    url: url.toString(),
    close: async () => {
      await close();
      await adminQuery(baseUrl, `drop database if exists ${name} with (force)`);
    },
  });
}

/** The small deterministic data set the tests read (demo accounts are users 1-3). */
export function seedTestData(database: Database, sizes: Partial<Omit<SeedOptions, 'hashPassword'>> = {}) {
  return seedDatabase(database.db, { users: 20, products: 30, orders: 200, ...sizes, hashPassword });
}
