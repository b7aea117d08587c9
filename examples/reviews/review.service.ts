// The write path: the review and its event in one transaction (the outbox), then the mutation
// returns once the event is published, so the author reads the new review on every replica.
import { eq } from 'drizzle-orm';
import { staleEntries } from '../../src/cache/invalidation';
import { products } from '../../src/db/schema';
import { AppError, ErrorCode } from '../../src/errors';
import type { ServiceDeps } from '../../src/modules/context';
import { requireLength, requireRange } from '../../src/modules/common/input';
import { emitReviewAdded } from './review.events';
import { productReviewsCacheType } from './review.loader';
import { reviews, type ReviewRow } from './review.table';

export interface NewReview {
  productId: number;
  userId: number;
  rating: number;
  body: string;
}

/** Postgres' unique_violation: the author reviewed this product already. */
const UNIQUE_VIOLATION = '23505';

export function createReviewService({ events }: Pick<ServiceDeps, 'events'>) {
  return {
    async add(review: NewReview): Promise<ReviewRow> {
      requireRange('rating', review.rating, 1, 5);
      const body = requireLength('body', review.body.trim(), 1, 2000);
      try {
        return await events.transaction(async (tx, emit) => {
          const [product] = await tx.select({ id: products.id }).from(products).where(eq(products.id, review.productId));
          if (!product) throw new AppError(ErrorCode.NotFound, `Product ${review.productId} does not exist.`);
          const [row] = await tx.insert(reviews).values({ ...review, body }).returning();
          await emitReviewAdded(
            emit,
            { reviewId: row!.id, productId: row!.productId, userId: row!.userId, rating: row!.rating },
            // The relay invalidates the product's cached list before it publishes the event.
            [staleEntries(productReviewsCacheType, [row!.productId])],
          );
          return row!;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError(ErrorCode.Conflict, `You have reviewed product ${review.productId} already.`);
        throw error;
      }
    },
  };
}

/** The driver's error, directly or as drizzle's wrapped cause. */
function isUniqueViolation(error: unknown): boolean {
  for (let current = error; current; current = (current as { cause?: unknown }).cause) {
    if ((current as { code?: unknown }).code === UNIQUE_VIOLATION) return true;
  }
  return false;
}

export type ReviewService = ReturnType<typeof createReviewService>;
