// The worker's projections: read models kept up to date from the domain streams, one consumer
// group each. notifications (rows in Postgres, exactly once through processed_events) and top
// products (a Redis sorted set, exactly once through per-event markers in Redis). Postgres stays
// the source of truth: `--rebuild top-products` recomputes the set from it.
import type { RedisClient } from '../redis/client';
import type { Db } from '../db/client';
import type { BatchEventHandler, EventHandler } from '../events/consumer';
import type { StreamName } from '../events/event-types';
import type { RedisKeys } from '../redis/keys';
import type { ProjectionScripts } from '../redis/scripts';
import { createNotificationsBatchHandler, NOTIFICATIONS_GROUP } from './notifications.projection';
import { createTopProductsBatchHandler, TOP_PRODUCTS_GROUP, TopProductsRebuildingError } from './top-products.projection';

export const PROJECTION_NAMES = [NOTIFICATIONS_GROUP, TOP_PRODUCTS_GROUP] as const;
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

export interface ProjectionDeps {
  db: Db;
  redis: RedisClient & ProjectionScripts;
  keys: RedisKeys;
}

export interface Projection {
  /** The consumer group: the projection's name. */
  group: ProjectionName;
  stream: StreamName;
  handler: EventHandler;
  /** A batch read from the stream at once (one transaction, one round trip); `handler` when a batch fails. */
  batchHandler: BatchEventHandler;
}

/** A projection's handler for one event: its batch handler with a batch of one (one way to apply an event). */
export function oneAtATime(batchHandler: BatchEventHandler): EventHandler {
  return async (event, delivery) => {
    const [error] = await batchHandler([{ event, delivery }]);
    if (error) throw error;
  };
}

function projection(group: ProjectionName, stream: StreamName, batchHandler: BatchEventHandler): Projection {
  return { group, stream, handler: oneAtATime(batchHandler), batchHandler };
}

export function createProjection(name: ProjectionName, deps: ProjectionDeps): Projection {
  switch (name) {
    case NOTIFICATIONS_GROUP:
      return projection(name, 'orders', createNotificationsBatchHandler(deps));
    case TOP_PRODUCTS_GROUP:
      return projection(name, 'orders', createTopProductsBatchHandler(deps));
    default: {
      const unknown: never = name;
      throw new Error(`unknown projection ${String(unknown)}`);
    }
  }
}

/** Postgres SQLSTATEs that say "try again" rather than "this event is bad". */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '53300', '57P01', '57P02', '57P03']);
const TRANSIENT_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
const TRANSIENT_MESSAGES = /Connection is closed|Connection terminated|connection timeout|MaxRetriesPerRequest|Stream isn't writeable/i;

/**
 * A dependency is down or busy (Postgres or Redis unreachable, a serialization conflict, a rebuild
 * holding top products): the runner retries such an entry in place instead of spending one of its
 * deliveries, so an outage never sends healthy events to the dead-letter stream.
 */
export function isTransientProjectionError(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  if (error instanceof TopProductsRebuildingError) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (TRANSIENT_SQLSTATES.has(code) || code.startsWith('08') || TRANSIENT_ERRNOS.has(code))) return true;
  if (TRANSIENT_MESSAGES.test(error.message) || error.name === 'MaxRetriesPerRequestError') return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isTransientProjectionError(inner, depth + 1))) return true;
  return isTransientProjectionError(error.cause, depth + 1);
}
