// What the relay published, recorded in PostgreSQL (published_at, stream_id: the failover re-check
// and retention read them). Rows are marked by the statement that reads the relay's next batch, so
// a relay woken by one commit at a time runs one statement per commit instead of two; until then
// the published-row markers in Redis already say they are out (a relay that dies first leaves
// rows that the next one finds published and skips).
import type { Db } from '../db/client';
import { currentDatabaseIdentity } from '../db/identity';
import { rowFromJson } from '../db/json-rows';
import { namedStatement, runNamed, sqlText } from '../db/named-statement';
import { outbox, type OutboxRow } from '../db/schema';

/** An unpublished row, with the identity of the database it was read from. */
export type UnpublishedRow = OutboxRow & { database: string };

/**
 * Marks rows published, with their stream ids: ids and stream ids as comma-separated lists (neither
 * holds a comma), and $3 the database identity they were published from: a database restored or
 * reseeded since (another identity) has other rows under those ids, which must not be marked.
 */
const MARK_PUBLISHED = `update outbox set published_at = now(), stream_id = published.stream_id
   from unnest(string_to_array($1, ',')::bigint[], string_to_array($2, ',')) as published(id, stream_id)
   where outbox.id = published.id and ${sqlText(currentDatabaseIdentity)} = $3`;

const markPublishedStatement = namedStatement('mark_published', MARK_PUBLISHED);

/**
 * The previous batch's marking and the next batch's rows in one statement: a relay woken by every
 * commit (one order at a time) runs one statement per order instead of two. The SELECT sees the
 * snapshot from before the UPDATE (a data-modifying CTE's changes are not visible to its own
 * statement), so it leaves out the rows being marked. With nothing to mark, $1 and $2 are ''.
 */
const markThenSelectStatement = namedStatement(
  'mark_then_select_unpublished',
  `with marked as (${MARK_PUBLISHED})
   select outbox.*, ${sqlText(currentDatabaseIdentity)} as database from outbox
   where published_at is null and not (id = any(string_to_array($1, ',')::bigint[]) and ${sqlText(currentDatabaseIdentity)} = $3)
   order by id limit $4`,
);

interface Unmarked {
  /** The database identity the rows were read from. */
  database: string;
  rows: Array<{ id: number; streamId: string }>;
}

const NOTHING_UNMARKED: Unmarked = { database: '', rows: [] };

export class PublicationMarks {
  private unmarked = NOTHING_UNMARKED;

  constructor(private readonly db: Db) {}

  get hasUnmarked(): boolean {
    return this.unmarked.rows.length > 0;
  }

  /** Rows just published (from `database`), to be marked. */
  remember(database: string, rows: Unmarked['rows']): void {
    this.unmarked = { database, rows };
  }

  /** Forgets rows not yet marked (a relay that gave up its lock: the next holder finds them published). */
  forget(): void {
    this.unmarked = NOTHING_UNMARKED;
  }

  /** Marks the rows remembered and reads the oldest unpublished ones, in one statement. */
  async markThenSelect(batchSize: number): Promise<UnpublishedRow[]> {
    const rows = await runNamed<Record<string, unknown>>(this.db, markThenSelectStatement, [...this.parameters(), batchSize]);
    this.forget();
    return rows.map((row) => ({ ...rowFromJson(outbox, row), database: String(row.database) }));
  }

  /** Marks the rows remembered now (the relay goes idle, re-checks a failover, or stops). */
  async markNow(): Promise<void> {
    if (!this.hasUnmarked) return;
    await runNamed(this.db, markPublishedStatement, this.parameters());
    this.forget();
  }

  private parameters(): [string, string, string] {
    const { database, rows } = this.unmarked;
    return [rows.map((row) => row.id).join(','), rows.map((row) => row.streamId).join(','), database];
  }
}
