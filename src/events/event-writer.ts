// How services write: their rows and their events in ONE transaction, then a bounded wait until
// the events are published (so the caller reads its own write on every replica). If Redis is down
// the wait times out, the mutation still succeeds, and the relay publishes once Redis is back.
import type { Database, Db } from '../db/client';
import type { EventType } from './event-types';
import { appendEvent, type NewEvent } from './outbox';
import type { PublishWaiters } from './publish-waiters';

/** Appends an event in the transaction; returns its outbox id. */
export type Emit = <Type extends EventType>(event: NewEvent<Type>) => Promise<number>;

/** Also wait, after the commit, for an event written by an earlier transaction (an idempotent replay). */
export type AwaitPublished = (outboxId: number) => void;

export interface EventWriterOptions {
  database: Database;
  waiters: PublishWaiters;
  /** Wakes the local relay after a commit (a NOTIFY wakes it too, on any replica). */
  wakeRelay(): void;
  /** Longest wait for publication before returning anyway. */
  publishWaitMs: number;
  /** Fault injection for tests: runs after the commit, before waiting for publication. */
  afterCommit?: () => void;
}

export interface EventWriter {
  transaction<Result>(work: (tx: Db, emit: Emit, awaitPublished: AwaitPublished) => Promise<Result>): Promise<Result>;
}

export function createEventWriter(options: EventWriterOptions): EventWriter {
  return {
    async transaction(work) {
      const outboxIds: number[] = [];
      const result = await options.database.db.transaction((tx) =>
        work(
          tx as unknown as Db,
          async (event) => {
            const outboxId = await appendEvent(tx as unknown as Db, event);
            outboxIds.push(outboxId);
            return outboxId;
          },
          (outboxId) => outboxIds.push(outboxId),
        ),
      );
      options.afterCommit?.();
      if (outboxIds.length > 0) {
        options.wakeRelay();
        await Promise.all(outboxIds.map((id) => options.waiters.waitForPublished(id, options.publishWaitMs)));
      }
      return result;
    },
  };
}
