// The write path's hottest statements (placing an order, the outbox row, the relay's marking),
// run by name: node-postgres prepares a named statement on each connection the first time it
// runs there, and PostgreSQL then skips parsing and, once a generic plan serves, planning. A
// statement built by drizzle is sent as new text every time. PGlite runs in-process and takes the
// text as it is. The text is fixed: everything that varies is a parameter.
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { Db } from './client';

const dialect = new PgDialect();

/** The text of a drizzle expression without parameters, to write into a named statement's text. */
export function sqlText(expression: SQL): string {
  const { sql, params } = dialect.sqlToQuery(expression);
  if (params.length > 0) throw new Error(`expected an expression without parameters: ${sql}`);
  return sql;
}

export interface NamedStatement {
  /** Unique per text: node-postgres refuses one name for two texts on a connection. */
  readonly name: string;
  readonly text: string;
}

export function namedStatement(name: string, text: string): NamedStatement {
  return { name: `streamgate_${name}`, text };
}

/** Runs `statement` with `params` ($1, $2, ...) in `db` (a transaction too); the rows as the driver returns them. */
export async function runNamed<Row>(db: Db, statement: NamedStatement, params: unknown[]): Promise<Row[]> {
  const prepared = db._.session.prepareQuery({ sql: statement.text, params }, undefined, statement.name, false);
  const result = (await prepared.execute()) as { rows: Row[] };
  return result.rows;
}
