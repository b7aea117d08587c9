// Top products: a Redis sorted set of units sold per product id (keys.topProducts()). OrderPlaced
// adds each line's quantity, OrderCancelled takes it off again. Redis cannot join a Postgres
// transaction, so exactly-once comes from Redis itself: one script checks and sets the event's
// applied marker and does the ZINCRBYs atomically (applyTopProductsDelta-3.lua). A batch sends one
// such script per event, all in one pipeline: one round trip, each event still atomic on its own.
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from '../redis/client';
import type { BatchEventHandler } from '../events/consumer';
import type { DomainEvent, OrderLine } from '../events/event-types';
import type { RedisKeys } from '../redis/keys';
import type { ProjectionScripts } from '../redis/scripts';
import { asError } from '../errors';

export const TOP_PRODUCTS_GROUP = 'top-products';

/** How long an applied event's marker lives: far longer than any redelivery of it can take. */
export const DEFAULT_MARKER_TTL_SECONDS = 7 * 24 * 3600;

/** A rebuild holds the projection; the runner retries the entry in place (isTransient) until it is done. */
export class TopProductsRebuildingError extends Error {
  override readonly name = 'TopProductsRebuildingError';
}

export interface TopProductsProjectionOptions {
  redis: RedisClient & ProjectionScripts;
  keys: RedisKeys;
  /** @default DEFAULT_MARKER_TTL_SECONDS */
  markerTtlSeconds?: number;
}

/** Units sold per product id that the event changes; empty for events that change none. */
export function unitChangesOf(event: DomainEvent): Map<number, number> {
  const sign = event.type === 'OrderPlaced' ? 1 : event.type === 'OrderCancelled' ? -1 : 0;
  const changes = new Map<number, number>();
  if (sign === 0) return changes;
  const items = (event.data as { items?: unknown }).items;
  if (!Array.isArray(items)) throw new Error(`${event.type} ${event.id} has no data.items list`);
  for (const item of items as Array<Partial<OrderLine>>) {
    const { productId, quantity } = item ?? {};
    if (!Number.isSafeInteger(productId) || !Number.isSafeInteger(quantity) || quantity! <= 0) {
      throw new Error(`${event.type} ${event.id} has an item without an integer productId and a positive quantity`);
    }
    changes.set(productId!, (changes.get(productId!) ?? 0) + sign * quantity!);
  }
  return changes;
}

/** applyTopProductsDelta-3's keys and arguments for one event: marker, set, lock, TTL, then (product id, units) pairs. */
function deltaArguments(keys: RedisKeys, eventId: string, changes: Map<number, number>, markerTtlSeconds: number): Array<string | number> {
  return [keys.topProductsApplied(eventId), keys.topProducts(), keys.topProductsRebuildLock(), markerTtlSeconds, ...[...changes].flat()];
}

/** ioredis adds commands registered with defineCommand to pipelines too; its types do not say so. */
type ProjectionPipeline = ChainableCommander & { applyTopProductsDelta(numberOfKeys: number, ...keysAndArgs: Array<string | number>): ChainableCommander };

const rebuilding = () => new TopProductsRebuildingError('top products are being rebuilt; the event is applied afterwards');

/**
 * One pipeline for the batch. Each event's slot: null when applied (or already applied, or nothing
 * to apply), a TopProductsRebuildingError while a rebuild holds the set (the runner retries that
 * event), or the error of an event without valid items or of its script.
 */
export function createTopProductsBatchHandler(options: TopProductsProjectionOptions): BatchEventHandler {
  const { redis, keys } = options;
  const markerTtlSeconds = options.markerTtlSeconds ?? DEFAULT_MARKER_TTL_SECONDS;
  return async (entries) => {
    const results: Array<Error | null> = [];
    const pipeline = redis.pipeline() as ProjectionPipeline;
    const sent: number[] = [];
    for (const [index, { event }] of entries.entries()) {
      try {
        const changes = unitChangesOf(event);
        results.push(null);
        if (changes.size === 0) continue;
        pipeline.applyTopProductsDelta(3, ...deltaArguments(keys, event.id, changes, markerTtlSeconds));
        sent.push(index);
      } catch (error) {
        results.push(asError(error));
      }
    }
    if (sent.length === 0) return results;
    const replies = (await pipeline.exec()) ?? [];
    sent.forEach((index, position) => {
      const [error, result] = replies[position] ?? [new Error('the pipeline was discarded')];
      results[index] = error ?? (result === -1 ? rebuilding() : null);
    });
    return results;
  };
}
