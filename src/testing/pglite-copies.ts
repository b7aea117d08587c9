// PGlite copies of a snapshot that a test file closed, kept for the next test file of the same
// process (a Jest worker) that copies the same snapshot: loading a copy is PostgreSQL starting
// inside PGlite (1-2 s), putting the snapshot's rows back into one that is up takes about 0.1 s.
//
// A copy is kept only as the snapshot left it: DISCARD ALL ends what the session held (settings,
// LISTENs, prepared statements, temporary tables, advisory locks), and a copy whose catalog changed
// (a test created, altered or dropped a table, a function, a trigger) is closed instead, since
// restoring rows would not undo that. What PGlite returns is made by the PGlite module of the file
// that loaded the copy (another realm to Jest): drizzle leaves timestamps as strings, so dates are
// made by the calling file's code, but a driver error is not `instanceof Error` there.
import type { PGlite } from '@electric-sql/pglite';
import { processShared } from './process-shared';

export interface IdleCopy {
  pglite: PGlite;
  /** catalogDigest() of the snapshot, taken when the copy was loaded. */
  catalog: string;
  /** Closes the copy when no test file took it in time. */
  expiry?: NodeJS.Timeout;
}

const IDLE_COPIES_PER_SNAPSHOT = 2;
/**
 * An open copy keeps the process alive while PostgreSQL's own timers run in it (a statistics
 * flush 10 s after activity): a copy no test file is coming for is closed soon, so a run in one
 * process (`--runInBand`, one test file) ends on time, and a Jest worker exits within the 500 ms
 * Jest gives it at the end of a run (after which it is killed: with 500 ms here, it was, at the
 * end of every run of the kit's tests). A test file that loads the kit holds the copies longer,
 * for as long as loading its modules takes before it copies a snapshot.
 */
const IDLE_COPY_MS = 250;
const LOADING_FILE_HOLD_MS = 10_000;

/** Every idle copy of this process, with the snapshot it is a copy of. */
const idle = processShared('idlePgliteCopies', () => new Map<IdleCopy, object>());

function expireIn(copy: IdleCopy, ms: number): void {
  clearTimeout(copy.expiry);
  copy.expiry = setTimeout(() => {
    idle.delete(copy);
    void copy.pglite.close().catch(() => undefined);
  }, ms).unref();
}

/** An idle copy of `snapshot`, no longer idle, or undefined. */
export function takeIdleCopy(snapshot: object): IdleCopy | undefined {
  const copy = [...idle].find(([, of]) => of === snapshot)?.[0];
  if (copy) {
    clearTimeout(copy.expiry);
    idle.delete(copy);
  }
  // The loading file has its copy: the others wait the short time again, so that they do not keep a
  // run's last process alive for the whole hold.
  for (const other of idle.keys()) expireIn(other, IDLE_COPY_MS);
  return copy;
}

/** Keeps a closed copy of `snapshot` for the next test file if it is as the snapshot left it, else closes it. */
export async function putBack(snapshot: object, copy: IdleCopy): Promise<void> {
  try {
    await copy.pglite.exec('discard all');
    const kept = [...idle.values()].filter((of) => of === snapshot).length;
    if (kept < IDLE_COPIES_PER_SNAPSHOT && (await catalogDigest(copy.pglite)) === copy.catalog) {
      idle.set(copy, snapshot);
      expireIn(copy, IDLE_COPY_MS);
      return;
    }
  } catch {
    // A session left in a failed transaction, or a closed one: not reused.
  }
  await copy.pglite.close().catch(() => undefined);
}

/** Everything of the user's schemas that restoring rows cannot undo: schemas, relations and their columns, constraints, functions, triggers. */
const CATALOG_DIGEST = `select md5(coalesce(string_agg(item, E'\\n' order by item), '')) as digest from (
  select 'schema ' || nspname as item from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema'
  union all
  select 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || coalesce(string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''), ', ' order by a.attnum), '')
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
    where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema' group by c.oid
  union all
  select 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) from pg_constraint where connamespace in (select oid from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema')
  union all
  select 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'
  union all
  select 'trigger ' || tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text from pg_trigger where not tgisinternal
) items`;

export async function catalogDigest(pglite: PGlite): Promise<string> {
  return (await pglite.query<{ digest: string }>(CATALOG_DIGEST)).rows[0]!.digest;
}

/** STREAMGATE_TEST_REUSE_PGLITE=false loads a new copy for every gateway (to rule the reuse out when a test misbehaves). */
export function reusesPgliteCopies(): boolean {
  return process.env.STREAMGATE_TEST_REUSE_PGLITE !== 'false';
}

// This module is evaluated once per test file that loads the kit: that file will copy a snapshot
// once its modules are loaded, so the idle copies wait for it.
for (const copy of idle.keys()) expireIn(copy, LOADING_FILE_HOLD_MS);
