// The statement an entity loader runs for its misses: one table's rows by id. drizzle builds a
// select's SQL anew on every run (building it was about a third of the gateway's CPU for an entity
// that missed the cache), so each is built once per database handle and prepared by name
// (PostgreSQL also parses and plans it once per connection; PGlite runs the text as it is). The
// ids go as one text parameter, which node-postgres and PGlite pass alike.
import { sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { Db } from './client';

interface PreparedSelect<Row> {
  execute(placeholders: { ids: string }): Promise<Row[]>;
}

/** The condition a select by ids is narrowed with: `column` is one of the ids. */
export type IdsCondition = (idColumn: PgColumn) => SQL;

const idIn: IdsCondition = (idColumn) => sql`${idColumn} = any(string_to_array(${sql.placeholder('ids')}, ',')::bigint[])`;

const preparedByDb = new WeakMap<Db, Map<string, PreparedSelect<unknown>>>();

/**
 * `(ids) => rows` for `name` (unique per statement): `select` narrowed with `idIn`, e.g.
 * `(db, idIn) => db.select().from(products).where(idIn(products.id))`. Rows come in any order.
 */
export function rowsByIds<Row>(db: Db, name: string, select: (db: Db, idIn: IdsCondition) => { prepare(name: string): PreparedSelect<Row> }): (ids: readonly number[]) => Promise<Row[]> {
  // Built on the first miss, not with the loader: loaders stay plain objects until used.
  return (ids) => statementOf(db, name, select).execute({ ids: ids.join(',') });
}

function statementOf<Row>(db: Db, name: string, select: (db: Db, idIn: IdsCondition) => { prepare(name: string): PreparedSelect<Row> }): PreparedSelect<Row> {
  let prepared = preparedByDb.get(db);
  if (!prepared) preparedByDb.set(db, (prepared = new Map()));
  let statement = prepared.get(name) as PreparedSelect<Row> | undefined;
  if (!statement) prepared.set(name, (statement = select(db, idIn).prepare(`streamgate_${name}`)));
  return statement;
}
