// The module's domain event. src/events/event-types.ts lists the gateway's event types as a closed
// union (its consumers switch on them), so a module's event is written through the same outbox
// with its own type and data here; the module's `eventStreams` routes it to a stream.
//
// It is a User-aggregate event (the author's), published on the 'users' stream and the author's
// pub/sub channel: the channels an event goes to are chosen by its aggregate
// (src/events/subscription-channels.ts), and Product events would reach every productChanged
// subscriber of the product, whose EventType enum has no REVIEW_ADDED.
import type { StaleEntries } from '../../src/cache/invalidation';
import type { EventType } from '../../src/events/event-types';
import type { Emit } from '../../src/events/event-writer';
import type { StreamEvent } from '../../src/subscriptions/stream-replay';

export const REVIEW_ADDED = 'ReviewAdded';
export const REVIEWS_STREAM = 'users';

export interface ReviewAddedData {
  reviewId: number;
  productId: number;
  /** The author: the aggregate, and the pub/sub channel (user:<id>) subscribers hear. */
  userId: number;
  rating: number;
}

/** Appends ReviewAdded to the outbox, in the mutation's transaction. */
export function emitReviewAdded(emit: Emit, data: ReviewAddedData, invalidates: StaleEntries[]): Promise<number> {
  return emit({ type: REVIEW_ADDED as EventType, aggregate: { type: 'User', id: String(data.userId) }, data: data as never, invalidates });
}

/** The data of a ReviewAdded stream event; null for any other event of the stream. */
export function reviewAddedData({ event }: StreamEvent): ReviewAddedData | null {
  return (event.type as string) === REVIEW_ADDED ? (event.data as unknown as ReviewAddedData) : null;
}
