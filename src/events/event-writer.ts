// How services write: their rows and their events in ONE transaction, then a bounded wait until
// the events are published (so the caller reads its own write on every replica). If Redis is down
// the wait times out, the mutation still succeeds (with a warning naming the row), and the relay
// publishes once Redis is back. Before it returns so, the mutation invalidates what its events made
// stale itself: the relay does that just before it publishes, and a relay kept from publishing
// (the master of the streams failing over while the cache's master is up, on a Redis Cluster; a
// backlog) has not done it yet, so a read after the mutation returned would find the old entry.
import type { Database, Db } from '../db/client';
import type { EventType } from './event-types';
import { databaseIdentity } from '../db/schema';
import type { StaleEntries } from '../cache/invalidation';
import { appendEvent, outboxRowName, type NewEvent } from './outbox';
import type { ModuleEvent } from './module-events';
import type { PublishWaiters } from './publish-waiters';

/** Appends an event in the transaction; returns its outbox id. */
export type Emit = <Type extends EventType>(event: NewEvent<Type>) => Promise<number>;

/** Lets `emit` take an added module's event (module-events.ts): the outbox stores any type, aggregate and data as they are. */
export function moduleEvent(event: ModuleEvent): NewEvent<EventType> {
  return event as unknown as NewEvent<EventType>;
}

/** Also wait, after the commit, for an event written by an earlier transaction (an idempotent replay). */
export type AwaitPublished = (outboxId: number) => void;

export interface EventWriterOptions {
  database: Database;
  waiters: PublishWaiters;
  /** Tells the local relay of committed rows (`outboxRowName`); their NOTIFY reaches the relay on any replica too. */
  announceCommitted(rows: string[]): void;
  /** Longest wait for publication before returning anyway. */
  publishWaitMs: number;
  /** The transaction's rows belong to this database identity; the process may not have noticed it yet. */
  onDatabaseSeen?(identity: string): void;
  /** A row was not published within `publishWaitMs` (the mutation returns anyway). */
  onPublishTimeout?(row: { outboxId: number; database: string; waitedMs: number }): void;
  /**
   * Invalidates the entries the transaction's events made stale, when one was not published in
   * time, before the mutation returns (the relay invalidates them again when it publishes). It
   * must not reject: the write is committed (cache/unconfirmed-invalidations.ts handles failure).
   */
  invalidateUnpublished?(entries: StaleEntries[]): Promise<void>;
  /** Fault injection for tests: runs after the commit, before waiting for publication. */
  afterCommit?: () => void;
}

export interface EventWriter {
  transaction<Result>(work: (tx: Db, emit: Emit, awaitPublished: AwaitPublished) => Promise<Result>): Promise<Result>;
}

export function createEventWriter(options: EventWriterOptions): EventWriter {
  const waitFor = async (database: string, outboxId: number): Promise<boolean> => {
    const isPublished = await options.waiters.waitForPublished(database, outboxId, options.publishWaitMs);
    if (!isPublished) options.onPublishTimeout?.({ outboxId, database, waitedMs: options.publishWaitMs });
    return isPublished;
  };
  return {
    async transaction(work) {
      const outboxIds: number[] = [];
      const stale: StaleEntries[] = [];
      let database: string | undefined;
      const result = await options.database.db.transaction(async (tx) => {
        const done = await work(
          tx as unknown as Db,
          async (event) => {
            const appended = await appendEvent(tx as unknown as Db, event);
            stale.push(...event.invalidates);
            database = appended.database;
            outboxIds.push(appended.outboxId);
            return appended.outboxId;
          },
          (outboxId) => outboxIds.push(outboxId),
        );
        // Only replays to wait for: which database they are in is read here, in the same snapshot.
        if (outboxIds.length > 0 && database === undefined) {
          const [row] = await tx.select({ id: databaseIdentity.id }).from(databaseIdentity);
          database = row?.id;
        }
        return done;
      });
      options.afterCommit?.();
      if (outboxIds.length > 0 && database !== undefined) {
        options.onDatabaseSeen?.(database);
        options.announceCommitted(outboxIds.map((id) => outboxRowName(database!, id)));
        const published = await Promise.all(outboxIds.map((id) => waitFor(database!, id)));
        if (published.includes(false) && stale.length > 0) await options.invalidateUnpublished?.(stale);
      }
      return result;
    },
  };
}
