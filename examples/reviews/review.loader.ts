// Reading reviews through the gateway's cache, as the built-in loaders do: DataLoader per request,
// then Redis (cache-aside, with leases against stampedes), then one SQL statement per batch.
import DataLoader from 'dataloader';
import { desc, inArray, lte, sql } from 'drizzle-orm';
import type { CacheStore } from '../../src/cache/cache-store';
import { idPageCacheType, rowCacheType } from '../../src/cache/cache-type';
import type { Db } from '../../src/db/client';
import { rowsByIds } from '../../src/db/rows-by-ids';
import { createEntityLoader } from '../../src/modules/common/entity-loader';
import { reviews, type ReviewRow } from './review.table';

/** Most reviews a product lists (newest first); enough for an example, no pagination. */
export const MAX_LISTED_REVIEWS = 50;

/** One review by id. Bump the version when the columns change: old entries are then never decoded. */
export const reviewCacheType = rowCacheType<ReviewRow>('Review', 1, ['id', 'productId', 'userId', 'rating', 'body', 'createdAt'], ['createdAt']);

/** The ids of a product's newest reviews: one key per product, invalidated when a review is added to it. */
export const productReviewsCacheType = idPageCacheType<number>('ProductReviews', 1, (productId) => ({ keyId: String(productId), field: 'newest' }));

export function createReviewLoaders(db: Db, cache: CacheStore) {
  const reviewById = createEntityLoader(cache, reviewCacheType, rowsByIds(db, 'reviews_by_ids', (db, idIn) => db.select().from(reviews).where(idIn(reviews.id))));
  const reviewIdsByProduct = new DataLoader<number, number[]>(async (productIds) => {
    const pages = await cache.load(productReviewsCacheType, productIds, async (missing) => {
      // One statement for the whole batch, at most MAX_LISTED_REVIEWS rows per product (a window
      // function), however many reviews a product has.
      const ranked = db
        .select({
          id: reviews.id,
          productId: reviews.productId,
          rank: sql<number>`row_number() over (partition by ${reviews.productId} order by ${reviews.id} desc)`.as('rank'),
        })
        .from(reviews)
        .where(inArray(reviews.productId, missing))
        .as('ranked');
      const rows = await db.select({ id: ranked.id, productId: ranked.productId }).from(ranked).where(lte(ranked.rank, MAX_LISTED_REVIEWS)).orderBy(desc(ranked.id));
      // DataLoader's contract: one page per key, in the keys' order.
      return missing.map((productId) => ({ ids: rows.filter((row) => row.productId === productId).map((row) => row.id), hasNextPage: false }));
    });
    return pages.map((page) => page?.ids ?? []);
  });
  return { reviewById, reviewIdsByProduct };
}

export type ReviewLoaders = ReturnType<typeof createReviewLoaders>;
