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

/**
 * Also wait, after the commit, for an event this transaction did not `emit`: written by an earlier
 * transaction (an idempotent replay), or appended by one of its own statements (`appendEventWith`),
 * then with its database and the entries it makes stale.
 */
export type AwaitPublished = (outboxId: number, appended?: AppendedRow) => void;

/** A row one of the work's own statements appended: its database and the entries it makes stale. */
interface AppendedRow {
  database: string;
  invalidates: StaleEntries[];
}

/** Also wait for a row a statement of the work appended (outside a transaction, its database must be given). */
export type AwaitAppended = (outboxId: number, appended: AppendedRow) => void;

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
  /**
   * Like `transaction`, for work whose every statement is its own transaction: one that writes a
   * change and its event's outbox row together (`appendEventWith`) needs no BEGIN and COMMIT. The
   * rows given to `awaitPublished` are waited for once `work` is done.
   */
  autocommit<Result>(work: (db: Db, awaitAppended: AwaitAppended) => Promise<Result>): Promise<Result>;
}

/** The rows a mutation appended (or waits for), their database and what they make stale. */
class PendingEvents {
  readonly outboxIds: number[] = [];
  readonly stale: StaleEntries[] = [];
  database: string | undefined;

  readonly awaitPublished: AwaitPublished = (outboxId, appended) => {
    this.outboxIds.push(outboxId);
    if (!appended) return;
    this.stale.push(...appended.invalidates);
    this.database = appended.database;
  };
}

export function createEventWriter(options: EventWriterOptions): EventWriter {
  const waitFor = async (database: string, outboxId: number): Promise<boolean> => {
    const isPublished = await options.waiters.waitForPublished(database, outboxId, options.publishWaitMs);
    if (!isPublished) options.onPublishTimeout?.({ outboxId, database, waitedMs: options.publishWaitMs });
    return isPublished;
  };
  const afterCommit = async ({ database, outboxIds, stale }: PendingEvents) => {
    options.afterCommit?.();
    if (outboxIds.length === 0 || database === undefined) return;
    options.onDatabaseSeen?.(database);
    options.announceCommitted(outboxIds.map((id) => outboxRowName(database, id)));
    const published = await Promise.all(outboxIds.map((id) => waitFor(database, id)));
    if (published.includes(false) && stale.length > 0) await options.invalidateUnpublished?.(stale);
  };
  return {
    async transaction(work) {
      const pending = new PendingEvents();
      const result = await options.database.db.transaction(async (tx) => {
        const emit: Emit = async (event) => {
          const appended = await appendEvent(tx as unknown as Db, event);
          pending.awaitPublished(appended.outboxId, { database: appended.database, invalidates: event.invalidates });
          return appended.outboxId;
        };
        const done = await work(tx as unknown as Db, emit, pending.awaitPublished);
        // Only replays to wait for: which database they are in is read here, in the same snapshot.
        if (pending.outboxIds.length > 0 && pending.database === undefined) {
          const [row] = await tx.select({ id: databaseIdentity.id }).from(databaseIdentity);
          pending.database = row?.id;
        }
        return done;
      });
      await afterCommit(pending);
      return result;
    },
    async autocommit(work) {
      const pending = new PendingEvents();
      const result = await work(options.database.db, pending.awaitPublished);
      await afterCommit(pending);
      return result;
    },
  };
}
