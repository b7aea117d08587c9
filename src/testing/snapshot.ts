// The snapshot a gateway state starts from, kept inside the database itself: after migrating and
// seeding the template, every table's rows and every sequence's position are copied into the
// schema `kit_snapshot` (which clone() and CREATE DATABASE … TEMPLATE carry along). restore()
// puts them back in one transaction, in a few milliseconds, and gives the database a new identity:
// the running app then treats it exactly as it treats a database replaced under it in production
// (src/events/database-identity.ts): state derived from the old data (cache entries, cached
// responses, sessions, published markers) is dropped by switching namespace, L1 is flushed and
// subscriptions end. Tables of added modules are covered, whatever their names.
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { mintDatabaseIdentity } from '../db/identity';

const SNAPSHOT_SCHEMA = 'kit_snapshot';
/** Rows the restore must not bring back: the identity is minted anew instead. */
const KEPT_TABLES = new Set(['database_identity']);

const quote = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;

async function rowsOf<Row>(db: Db, statement: ReturnType<typeof sql>): Promise<Row[]> {
  const result = (await db.execute(statement)) as unknown as { rows: Row[] };
  return result.rows;
}

/** The public tables to snapshot, referenced tables before those referencing them (the order rows can be inserted in). */
async function dataTables(db: Db): Promise<string[]> {
  const tables = await rowsOf<{ name: string }>(db, sql`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`);
  const references = await rowsOf<{ name: string; referenced: string }>(
    db,
    sql`select conrelid::regclass::text as name, confrelid::regclass::text as referenced from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace`,
  );
  const ordered: string[] = [];
  const visit = (name: string, path: Set<string>) => {
    if (ordered.includes(name) || path.has(name)) return;
    path.add(name);
    for (const reference of references) if (reference.name === name && reference.referenced !== name) visit(reference.referenced.replace(/^"|"$/g, ''), path);
    ordered.push(name);
  };
  for (const { name } of tables) visit(name, new Set());
  return ordered.filter((name) => !KEPT_TABLES.has(name));
}

/** Copies every table's rows and every sequence's position into the snapshot schema. */
export async function takeSnapshot(db: Db): Promise<void> {
  await db.execute(sql.raw(`create schema ${SNAPSHOT_SCHEMA}`));
  for (const table of await dataTables(db)) {
    await db.execute(sql.raw(`create table ${SNAPSHOT_SCHEMA}.${quote(table)} as table public.${quote(table)}`));
  }
  await db.execute(
    sql.raw(
      `create table ${SNAPSHOT_SCHEMA}.sequences as select schemaname || '.' || sequencename as name, last_value from pg_sequences where schemaname = 'public'`,
    ),
  );
}

/** Brings back the snapshot's rows and sequences, then mints a new database identity; resolves to it. */
export async function restoreSnapshot(db: Db): Promise<string> {
  const tables = await dataTables(db);
  return db.transaction(async (tx) => {
    const txDb = tx as unknown as Db;
    await txDb.execute(sql.raw(`truncate ${tables.map((table) => `public.${quote(table)}`).join(', ')}`));
    for (const table of tables) {
      await txDb.execute(sql.raw(`insert into public.${quote(table)} select * from ${SNAPSHOT_SCHEMA}.${quote(table)}`));
    }
    // A sequence never used (last_value null) goes back to its start.
    await txDb.execute(
      sql.raw(
        `select case when last_value is null then setval(name, 1, false) else setval(name, last_value, true) end from ${SNAPSHOT_SCHEMA}.sequences`,
      ),
    );
    return mintDatabaseIdentity(txDb);
  });
}
