// `npm run worker -- --rebuild top-products`: recomputes the top-products sorted set from Postgres
// (units of the items of every order that is not cancelled), while workers keep running.
//
// 1. Take the rebuild lock: from now on the projection applies nothing (its entries wait).
// 2. In one repeatable-read snapshot, read the totals and the ids of the order events in the
//    outbox. Every event applied so far committed before the snapshot, so the totals include it;
//    every event in the snapshot is included, so it gets an applied marker and will be skipped.
// 3. Build the set under a staging key, then one script renames it over the live set and releases
//    the lock, but only while the lock is still this rebuild's.
// Events whose outbox rows were pruned (OUTBOX_RETENTION_HOURS) before a lagging worker applied
// them would be counted twice; a worker that far behind has bigger problems.
import { randomUUID } from 'node:crypto';
import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/client';
import type { Db } from '../db/client';
import { orderItems, orders, outbox } from '../db/schema';
import type { RedisKeys } from '../redis/keys';
import type { ProjectionScripts } from '../redis/scripts';
import { DEFAULT_MARKER_TTL_SECONDS } from './top-products.projection';

export interface RebuildTopProductsOptions {
  db: Db;
  redis: RedisClient & ProjectionScripts;
  keys: RedisKeys;
  /** @default DEFAULT_MARKER_TTL_SECONDS */
  markerTtlSeconds?: number;
  /** Lifetime of the lock, renewed while the rebuild runs: how long workers wait after a rebuild died. @default 30000 */
  lockTtlMs?: number;
  /** Sorted-set members and markers written per round trip. @default 1000 */
  chunkSize?: number;
}

export interface RebuildSummary {
  /** Products in the new set. */
  products: number;
  /** Units sold in all. */
  units: number;
  /** Order events in the snapshot, marked as applied. */
  markedEvents: number;
}

export class RebuildConflictError extends Error {
  override readonly name = 'RebuildConflictError';
}

/** Runs a pipeline; rejects with the first command's error (exec() itself only reports them). */
async function execAll(pipeline: ChainableCommander): Promise<void> {
  const failed = (await pipeline.exec())?.find(([error]) => error);
  if (failed) throw failed[0];
}

export async function rebuildTopProducts(options: RebuildTopProductsOptions): Promise<RebuildSummary> {
  const { db, redis, keys } = options;
  const markerTtlSeconds = options.markerTtlSeconds ?? DEFAULT_MARKER_TTL_SECONDS;
  const lockTtlMs = options.lockTtlMs ?? 30_000;
  const chunkSize = options.chunkSize ?? 1000;
  const token = randomUUID();
  const lockKey = keys.topProductsRebuildLock();
  const stagingKey = keys.topProductsStaging(token);

  if ((await redis.set(lockKey, token, 'PX', lockTtlMs, 'NX')) !== 'OK') {
    throw new RebuildConflictError('another rebuild of top products is running; try again when it has finished');
  }
  // Renewed, not set once for long: if this process dies, workers resume after lockTtlMs.
  const renewal = setInterval(() => void redis.pexpire(lockKey, lockTtlMs).catch(() => undefined), lockTtlMs / 3);
  try {
    const { totals, eventIds } = await db.transaction(
      async (tx) => {
        const totals = await tx
          .select({ productId: orderItems.productId, units: sql<string>`sum(${orderItems.quantity})` })
          .from(orderItems)
          .innerJoin(orders, eq(orders.id, orderItems.orderId))
          .where(ne(orders.status, 'CANCELLED'))
          .groupBy(orderItems.productId);
        const events = await tx
          .select({ eventId: outbox.eventId })
          .from(outbox)
          .where(and(eq(outbox.stream, 'orders'), inArray(outbox.type, ['OrderPlaced', 'OrderCancelled'])));
        return { totals, eventIds: events.map((row) => row.eventId) };
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );

    const sold = totals.map((row) => ({ productId: row.productId, units: Number(row.units) })).filter((row) => row.units > 0);
    for (let start = 0; start < sold.length; start += chunkSize) {
      const members = sold.slice(start, start + chunkSize).flatMap((row) => [row.units, row.productId]);
      // A staging set left by a rebuild that died expires by itself.
      await execAll(redis.pipeline().zadd(stagingKey, ...members).pexpire(stagingKey, 10 * lockTtlMs));
    }
    for (let start = 0; start < eventIds.length; start += chunkSize) {
      const pipeline = redis.pipeline();
      for (const eventId of eventIds.slice(start, start + chunkSize)) pipeline.set(keys.topProductsApplied(eventId), '1', 'EX', markerTtlSeconds);
      await execAll(pipeline);
    }
    if ((await redis.replaceTopProducts(3, lockKey, stagingKey, keys.topProducts(), token)) !== 1) {
      throw new RebuildConflictError(`the rebuild lock expired (after ${lockTtlMs} ms without renewal) before the rebuild finished; run it again`);
    }
    return { products: sold.length, units: sold.reduce((sum, row) => sum + row.units, 0), markedEvents: eventIds.length };
  } finally {
    clearInterval(renewal);
  }
}
