// How services write: their rows and their events in ONE transaction, then a bounded wait until
// the events are published (so the caller reads its own write on every replica). If Redis is down
// the wait times out, the mutation still succeeds, and the relay publishes once Redis is back.
import type { Database, Db } from '../db/client';
import type { EventType } from './event-types';
import { appendEvent, type NewEvent } from './outbox';
import type { PublishWaiters } from './publish-waiters';

export type Emit = <Type extends EventType>(event: NewEvent<Type>) => Promise<void>;

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
  transaction<Result>(work: (tx: Db, emit: Emit) => Promise<Result>): Promise<Result>;
}

export function createEventWriter(options: EventWriterOptions): EventWriter {
  return {
    async transaction(work) {
      const outboxIds: number[] = [];
      const result = await options.database.db.transaction((tx) =>
        work(tx as unknown as Db, async (event) => {
          outboxIds.push(await appendEvent(tx as unknown as Db, event));
        }),
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
