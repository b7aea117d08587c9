// A fresh, empty PostgreSQL database created next to the one a URL names (same server, same
// credentials), for tests that must not share data; drop() removes it again. Also the admin
// statements the test kit's templates use (database.ts).
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface ScratchPostgresDatabase {
  /** The base URL with the new database's name as its path. */
  url: string;
  /** Drops the database, closing any connections still open to it; does nothing if it is gone. */
  drop(): Promise<void>;
}

/** PostgreSQL truncates longer identifiers, which would make two names collide. */
const maxIdentifierLength = 63;

/**
 * Creates `<namePrefix>_<random hex>` on the server `baseUrl` points at, connecting to `baseUrl`'s
 * own database to do it. `namePrefix` goes into SQL unquoted, so it must be a plain lower-case identifier.
 */
export async function createScratchPostgresDatabase(baseUrl: string, namePrefix: string): Promise<ScratchPostgresDatabase> {
  const name = `${namePrefix}_${randomBytes(6).toString('hex')}`;
  if (!/^[a-z_][a-z0-9_]*$/.test(namePrefix) || name.length > maxIdentifierLength) {
    throw new Error(`not a usable database name prefix: ${JSON.stringify(namePrefix)}`);
  }
  await adminQuery(baseUrl, `create database ${name}`);
  return {
    url: databaseUrl(baseUrl, name),
    drop: async () => void (await adminQuery(baseUrl, `drop database if exists ${name} with (force)`)),
  };
}

/** `baseUrl` with `name` as its database. */
export function databaseUrl(baseUrl: string, name: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs one statement on its own connection to `url` (CREATE/DROP DATABASE cannot run in a pool's transaction); its rows. */
export async function adminQuery(url: string, statement: string): Promise<unknown[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(statement)).rows;
  } finally {
    await client.end();
  }
}
