import DataLoader from 'dataloader';
import { inArray } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { products, type ProductRow } from '../../db/schema';
import { orderedByKeys } from '../common/batch';

export function createProductLoaders(db: Db) {
  return {
    productById: new DataLoader<number, ProductRow | null>(async (ids) =>
      orderedByKeys(ids, await db.select().from(products).where(inArray(products.id, [...ids])), (row) => row.id),
    ),
  };
}

export type ProductLoaders = ReturnType<typeof createProductLoaders>;
