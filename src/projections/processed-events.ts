import type { Db } from '../db/client';
import { processedEvents } from '../db/schema';

/**
 * Records `eventIds` as processed by `group` and runs `effect` for those not recorded before, in
 * ONE transaction: an event seen before (a redelivery, a duplicate entry, the same id twice in the
 * list) changes nothing. Resolves to the ids that were applied now. Rejects, committing nothing,
 * when `effect` does.
 */
export async function applyEachOnce(
  db: Db,
  group: string,
  eventIds: readonly string[],
  effect: (tx: Db, freshIds: ReadonlySet<string>) => Promise<void>,
): Promise<ReadonlySet<string>> {
  // The database gives uuids back in lower case; the caller gets its own spelling back.
  const givenIds = new Map(eventIds.map((id) => [id.toLowerCase(), id]));
  // Sorted: two transactions recording overlapping ids take their row locks in the same order, so
  // the later one waits for the earlier (and then skips those ids) instead of deadlocking.
  const ids = [...givenIds.keys()].sort();
  if (ids.length === 0) return new Set();
  return db.transaction(async (tx) => {
    // The insert comes first: a concurrent duplicate blocks on the primary key until this commits.
    const recorded = await tx
      .insert(processedEvents)
      .values(ids.map((eventId) => ({ consumerGroup: group, eventId })))
      .onConflictDoNothing()
      .returning({ eventId: processedEvents.eventId });
    const freshIds = new Set(recorded.map((row) => givenIds.get(row.eventId) ?? row.eventId));
    if (freshIds.size > 0) await effect(tx as unknown as Db, freshIds);
    return freshIds;
  });
}
