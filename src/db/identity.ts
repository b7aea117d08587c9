// The database's identity as the database itself records it (the database_identity row). Minted by
// the migration that creates the table, and again by `seed` when it replaces the data; what Redis
// derives from the data is bound to it by src/events/database-identity.ts.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db } from './client';
import { databaseIdentity } from './schema';

/** NOTIFY channel on which a new identity is announced, so running gateways switch at once. */
export const DATABASE_IDENTITY_CHANNEL = 'streamgate_database_identity';

export interface StoredIdentity {
  id: string;
  /** The identity this one replaced, if any: state Redis holds under it was this database's. */
  previousId: string | null;
  /**
   * False when the row was minted in another database: a dump restored elsewhere, or a database
   * dropped and recreated from one. The row came along; the data's history did not.
   */
  isSameDatabase: boolean;
  /** The last outbox id this database handed out (0 when none): below what Redis saw published means a restore. */
  lastOutboxId: number;
}

/** The identity of the database a statement runs in, as an expression (read with the rows it concerns). */
export const currentDatabaseIdentity = sql<string>`(select ${databaseIdentity.id} from ${databaseIdentity})`;

const currentDatabaseOid = sql`(select oid::bigint from pg_database where datname = current_database())`;

export async function readDatabaseIdentity(db: Db): Promise<StoredIdentity> {
  const [row] = await db
    .select({
      id: databaseIdentity.id,
      previousId: databaseIdentity.previousId,
      isSameDatabase: sql<boolean>`${databaseIdentity.databaseOid} = ${currentDatabaseOid}`,
      lastOutboxId: sql<string>`(select case when is_called then last_value else 0 end from outbox_id_seq)`,
    })
    .from(databaseIdentity);
  if (!row) return { id: await mintDatabaseIdentity(db), previousId: null, isSameDatabase: true, lastOutboxId: 0 };
  return { ...row, lastOutboxId: Number(row.lastOutboxId) };
}

/**
 * Gives the database a new identity (in `db`, which may be a transaction) and announces it. With
 * `replacing`, only if the identity is still that one: replicas that notice a restore together
 * agree on whichever mints first. Resolves to the identity in force afterwards.
 */
export async function mintDatabaseIdentity(db: Db, replacing?: string): Promise<string> {
  const id = randomBytes(8).toString('hex');
  const values = { id, databaseOid: sql`${currentDatabaseOid}`, createdAt: new Date() };
  const replaced = { ...values, previousId: sql`${databaseIdentity.id}` };
  const minted = replacing
    ? await db.update(databaseIdentity).set(replaced).where(sql`${databaseIdentity.id} = ${replacing}`).returning({ id: databaseIdentity.id })
    : await db
        .insert(databaseIdentity)
        .values({ singleton: true, ...values })
        .onConflictDoUpdate({ target: databaseIdentity.singleton, set: replaced })
        .returning({ id: databaseIdentity.id });
  if (minted.length === 0) return (await readDatabaseIdentity(db)).id;
  await db.execute(sql`select pg_notify(${DATABASE_IDENTITY_CHANNEL}, ${id})`);
  return id;
}
