// The module's domain event, ReviewAdded, of its own aggregate, Review: written through the
// gateway's outbox like any event (`moduleEvent` lets `emit` take a type the gateway's closed
// EventType union does not list), published on the 'catalog' stream and on the author's
// 'user-reviews' pub/sub channel, as the module's `events` (reviewEvents below) route it.
import type { StaleEntries } from '../../src/cache/invalidation';
import { moduleEvent, type Emit } from '../../src/events/event-writer';
import type { ModuleEvents } from '../../src/events/module-events';
import type { StreamEvent } from '../../src/subscriptions/stream-replay';

export const REVIEW_ADDED = 'ReviewAdded';
export const REVIEWS_STREAM = 'catalog';
/** The pub/sub topic of one author's reviews (`user-reviews:<user id>`). */
export const USER_REVIEWS_TOPIC = 'user-reviews';

/** Where the module's events go: GatewayModule.events. */
export const reviewEvents: ModuleEvents = {
  streams: { [REVIEW_ADDED]: REVIEWS_STREAM },
  channels: { Review: (data) => [{ topic: USER_REVIEWS_TOPIC, id: Number(data.userId) }] },
};

export interface ReviewAddedData {
  reviewId: number;
  productId: number;
  /** The author, whose 'user-reviews' channel subscribers hear. */
  userId: number;
  rating: number;
}

/** Appends ReviewAdded to the outbox, in the mutation's transaction. */
export function emitReviewAdded(emit: Emit, data: ReviewAddedData, invalidates: StaleEntries[]): Promise<number> {
  return emit(moduleEvent({ type: REVIEW_ADDED, aggregate: { type: 'Review', id: String(data.reviewId) }, data, invalidates }));
}

/** The data of a ReviewAdded stream event; null for any other event of the stream. */
export function reviewAddedData({ event }: StreamEvent): ReviewAddedData | null {
  return (event.type as string) === REVIEW_ADDED ? (event.data as unknown as ReviewAddedData) : null;
}
