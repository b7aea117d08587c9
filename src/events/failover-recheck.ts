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
import type { Logger } from '../logger';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/client';

/** The error publishEvent answers on a Redis that lost writes (see publishEvent-n.lua). */
const LOST_WRITES_ERROR = 'LOSTWRITES';

export function isLostWritesError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith(LOST_WRITES_ERROR);
}

/** Markers checked per round trip. */
const EXISTS_BATCH = 500;

/** The last outbox id the Redis says it published for the database (0 when it knows none). */
async function lastPublishedInRedis(redis: RedisClient, keys: RedisKeys): Promise<number> {
  return Number((await redis.get(keys.lastPublishedOutboxId())) ?? 0);
}

/**
 * Rows marked published in Postgres within `windowMs`, up to `upToId`, whose published marker the
 * Redis does not hold: lost by a failover. In outbox id order.
 */
async function findLostRows(options: { db: Db; redis: RedisClient; keys: RedisKeys; upToId: number; windowMs: number }): Promise<OutboxRow[]> {
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
async function recordStreamId(db: Db, outboxId: number, streamId: string): Promise<void> {
  await db.update(outbox).set({ streamId }).where(eq(outbox.id, outboxId));
}

export interface LostWritesRecoveryOptions {
  db: Db;
  /** The durable instance (streams, markers). */
  redis: RedisClient;
  keys: RedisKeys;
  /** The database identity in force. */
  identity: { readonly current: string };
  logger: Logger;
  /** How far back published rows are checked; 0: never (acknowledgedOutboxId() stays 0). */
  windowMs: number;
  /** Rows per republish batch. */
  batchSize: number;
  /** Publishes rows again under their first stream ids (invalidations first), one reply per row. */
  republish(rows: OutboxRow[]): Promise<Array<[Error | null, unknown]>>;
}

/** The relay's side of a failover: what Redis acknowledged to it, and the lost rows published again. */
export class LostWritesRecovery {
  /** Rows published again because Redis had lost them, since start. */
  republishedRows = 0;
  /**
   * The highest outbox id Redis acknowledged to this holder as published, for the database in
   * force: a Redis holding less lost writes. Only what this holder saw: Postgres cannot tell a
   * failover from a database restored or re-identified (whose rows were published elsewhere).
   */
  private acknowledged: { database: string; outboxId: number } | null = null;

  constructor(private readonly options: LostWritesRecoveryOptions) {}

  /** A new lock holder knows nothing Redis acknowledged to the one before. */
  forget(): void {
    this.acknowledged = null;
  }

  acknowledge(database: string, outboxId: number): void {
    this.acknowledged = { database, outboxId };
  }

  /** The highest outbox id Redis acknowledged to this holder for the database in force (0: none yet, or no re-check). */
  acknowledgedOutboxId(): number {
    if (this.options.windowMs === 0) return 0;
    const database = this.options.identity.current;
    if (this.acknowledged?.database !== database) this.acknowledged = { database, outboxId: 0 };
    return this.acknowledged.outboxId;
  }

  /** After a reconnect: a Redis that holds fewer published rows than were acknowledged gets them back. */
  async recheckIfBehind(): Promise<void> {
    const acknowledgedId = this.acknowledgedOutboxId();
    if (acknowledgedId === 0) return;
    if ((await lastPublishedInRedis(this.options.redis, this.options.keys)) < acknowledgedId) await this.republishLost(acknowledgedId);
  }

  /**
   * Publishes again, in outbox id order and under their first stream ids, the recent rows Redis
   * lost (their published marker is missing): a promoted replica that never received them.
   */
  async republishLost(acknowledgedId: number): Promise<void> {
    const { db, redis, keys, logger, batchSize } = this.options;
    const lost = await findLostRows({ db, redis, keys, upToId: acknowledgedId, windowMs: this.options.windowMs });
    for (let start = 0; start < lost.length; start += batchSize) {
      const rows = lost.slice(start, start + batchSize);
      const results = await this.options.republish(rows);
      for (const [index, row] of rows.entries()) {
        const [error, reply] = results[index] ?? [new Error('no reply')];
        if (error) throw error;
        const streamId = String((reply as [string, number])[0]);
        if (streamId !== row.streamId) await recordStreamId(db, row.id, streamId);
      }
      this.republishedRows += rows.length;
    }
    // Whatever was not found (older than the window) cannot be brought back: accept what Redis has.
    this.acknowledge(this.options.identity.current, Math.min(acknowledgedId, await lastPublishedInRedis(redis, keys)));
    logger.warn(
      { republished: lost.length, firstOutboxId: lost[0]?.id, lastOutboxId: lost.at(-1)?.id, acknowledgedOutboxId: acknowledgedId },
      'Redis had lost published events (a failover to a replica that had not received them); published them again',
    );
  }
}
