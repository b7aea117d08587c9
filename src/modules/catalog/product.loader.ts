import { asc, gt } from 'drizzle-orm';
import type { CacheStore } from '../../cache/cache-store';
import { rowCacheType } from '../../cache/cache-type';
import type { Db } from '../../db/client';
import { rowsByIds } from '../../db/rows-by-ids';
import { products, type ProductRow } from '../../db/schema';
import { createEntityLoader, idOrderedPageCacheType, pageKeyOf } from '../common/entity-loader';
import { createPageLoader } from '../common/page-loader';
import type { PageRequest } from '../common/pagination';

/**
 * Products, with their stock (and updatedAt, version) as the volatile part: every order changes a
 * product's stock, and a cached response that read only names and prices stays valid then.
 */
export const productCacheType = rowCacheType<ProductRow>(
  'Product',
  1,
  ['id', 'sku', 'name', 'description', 'priceCents', 'stock', 'version', 'createdAt', 'updatedAt'],
  ['createdAt', 'updatedAt'],
  { graphqlType: 'Product', stableFields: ['__typename', 'id', 'sku', 'name', 'description', 'priceCents'] },
);

/** The catalogue in id order (unfiltered): changes only when a product is created or removed. */
export const productPageCacheType = idOrderedPageCacheType('ProductPages');

export function createProductLoaders(db: Db, cache: CacheStore) {
  const productById = createEntityLoader(cache, productCacheType, rowsByIds(db, 'products_by_ids', (db, idIn) => db.select().from(products).where(idIn(products.id))));
  const productPages = createPageLoader<PageRequest, ProductRow>({
    cache,
    cacheType: productPageCacheType,
    rowCacheType: productCacheType,
    rowById: productById,
    cacheKeyOf: pageKeyOf,
    loadFromDatabase: (pages) =>
      Promise.all(
        pages.map((page) =>
          db
            .select()
            .from(products)
            .where(page.afterId === null ? undefined : gt(products.id, page.afterId))
            .orderBy(asc(products.id))
            .limit(page.first + 1),
        ),
      ),
  });
  return { productById, productPages };
}
