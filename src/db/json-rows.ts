// Rows that come back as JSON (`to_jsonb`, from a statement that returns the rows of several tables
// at once) mapped to drizzle's row types by the tables' own column definitions, as drizzle maps the
// results of its own queries.
import { getTableColumns, type InferSelectModel } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';

export function rowFromJson<Table extends PgTable>(table: Table, json: Record<string, unknown>): InferSelectModel<Table> {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    const value = json[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as InferSelectModel<Table>;
}
