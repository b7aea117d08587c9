// After a failover, the promoted replica may lack the last writes the old master acknowledged
// (replication is asynchronous): published markers, stream entries, cache invalidations. Postgres
// and the outbox are the truth, so the relay finds the rows it published lately whose marker is
// missing and publishes them again, in outbox id order, under the stream ids they first had: a
// subscriber that got an event from the old master sees the same cursor again and drops it (its
// feed passes only newer ids), one that did not gets it, and the stream ends up as it was.
//
// How a loss is noticed: the relay remembers the highest outbox id Redis acknowledged to it;
// publishEvent refuses (LOSTWRITES) to publish on a Redis whose last published id is lower, and the
// relay compares the two when its connection comes back (ioredis 'ready', e.g. on a new master).
import { and, asc, eq, gte, isNotNull, lte } from 'drizzle-orm';
import type { Db } from '../db/client';
import { outbox, type OutboxRow } from '../db/schema';
import type { RedisKeys } from '../redis/keys';
import type Redis from 'ioredis';

/** The error publishEvent answers on a Redis that lost writes (see publishEvent-n.lua). */
export const LOST_WRITES_ERROR = 'LOSTWRITES';

export function isLostWritesError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith(LOST_WRITES_ERROR);
}

/** Markers checked per round trip. */
const EXISTS_BATCH = 500;

/** The last outbox id the Redis says it published for the database (0 when it knows none). */
export async function lastPublishedInRedis(redis: Redis, keys: RedisKeys): Promise<number> {
  return Number((await redis.get(keys.lastPublishedOutboxId())) ?? 0);
}

/**
 * Rows marked published in Postgres within `windowMs`, up to `upToId`, whose published marker the
 * Redis does not hold: lost by a failover. In outbox id order.
 */
export async function findLostRows(options: { db: Db; redis: Redis; keys: RedisKeys; upToId: number; windowMs: number }): Promise<OutboxRow[]> {
  const { db, redis, keys } = options;
  const since = new Date(Date.now() - options.windowMs);
  const recent = await db
    .select()
    .from(outbox)
    .where(and(isNotNull(outbox.publishedAt), gte(outbox.publishedAt, since), lte(outbox.id, options.upToId)))
    .orderBy(asc(outbox.id));
  const lost: OutboxRow[] = [];
  for (let start = 0; start < recent.length; start += EXISTS_BATCH) {
    const chunk = recent.slice(start, start + EXISTS_BATCH);
    const pipeline = redis.pipeline();
    for (const row of chunk) pipeline.exists(keys.publishedOutboxRow(row.id));
    const replies = (await pipeline.exec()) ?? [];
    for (const [index, row] of chunk.entries()) {
      const [error, exists] = replies[index] ?? [new Error('no reply')];
      if (error) throw error;
      if (Number(exists) === 0) lost.push(row);
    }
  }
  return lost;
}

/** Records the stream id a republished row got, when it is not the one it had. */
export async function recordStreamId(db: Db, outboxId: number, streamId: string): Promise<void> {
  await db.update(outbox).set({ streamId }).where(eq(outbox.id, outboxId));
}
