import type { Db } from '../db/client';
import { processedEvents } from '../db/schema';

/**
 * Runs `effect` and records `eventId` as processed by `group`, in ONE transaction: an event seen
 * before (a redelivery, a duplicate entry) changes nothing. Resolves to false when it was skipped.
 */
export async function applyOnce(db: Db, group: string, eventId: string, effect: (tx: Db) => Promise<void>): Promise<boolean> {
  return db.transaction(async (tx) => {
    // The insert comes first: a concurrent duplicate blocks on the primary key until this commits.
    const recorded = await tx
      .insert(processedEvents)
      .values({ consumerGroup: group, eventId })
      .onConflictDoNothing()
      .returning({ eventId: processedEvents.eventId });
    if (recorded.length === 0) return false;
    await effect(tx as unknown as Db);
    return true;
  });
}
