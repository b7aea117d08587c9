import { and, asc, eq, gt, ilike, or, sql } from 'drizzle-orm';
import type { EventWriter } from '../../events/event-writer';
import { staleEntries } from '../../cache/invalidation';
import type { Db } from '../../db/client';
import { products, type ProductRow } from '../../db/schema';
import { AppError, ErrorCode, badUserInput } from '../../errors';
import { requireChanges, requireLength, requireRange } from '../common/input';
import { toPage, type Page, type PageRequest } from '../common/pagination';
import { productCacheType } from './product.loader';

export const MAX_SEARCH_LENGTH = 100;
const MAX_PRICE_CENTS = 100_000_000;
const MAX_STOCK = 1_000_000_000;

export interface ProductChanges {
  name?: string | null;
  description?: string | null;
  priceCents?: number | null;
  stock?: number | null;
}

/** `search` as a literal ILIKE pattern: % and _ typed by the user match themselves. */
function containsPattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

export function createProductService({ db, events }: { db: Db; events: EventWriter }) {
  return {
    /**
     * A page of products matching `search`. Searches are not cached (their key space is
     * unbounded); the unfiltered catalogue is, through the productPages loader.
     */
    async search(page: PageRequest, search: string): Promise<Page<ProductRow>> {
      const term = requireLength('search', search.trim(), 1, MAX_SEARCH_LENGTH);
      const pattern = containsPattern(term);
      const rows = await db
        .select()
        .from(products)
        .where(
          and(
            page.afterId === null ? undefined : gt(products.id, page.afterId),
            or(ilike(products.name, pattern), ilike(products.sku, pattern)),
          ),
        )
        .orderBy(asc(products.id))
        .limit(page.first + 1);
      return toPage(rows, page);
    },

    /** Admin edit; the cached product is invalidated before this returns (read-your-writes). */
    async update(productId: number, changes: ProductChanges): Promise<ProductRow> {
      const values: Partial<typeof products.$inferInsert> = {};
      if (changes.name != null) values.name = requireLength('name', changes.name.trim(), 1, 200);
      if (changes.description != null) values.description = requireLength('description', changes.description, 0, 5000);
      if (changes.priceCents != null) values.priceCents = requireRange('priceCents', changes.priceCents, 0, MAX_PRICE_CENTS);
      if (changes.stock != null) values.stock = requireRange('stock', changes.stock, 0, MAX_STOCK);
      requireChanges(values);
      return events.transaction(async (tx, emit) => {
        const [updated] = await tx
          .update(products)
          .set({ ...values, version: sql`${products.version} + 1`, updatedAt: new Date() })
          .where(eq(products.id, productId))
          .returning();
        if (!updated) throw new AppError(ErrorCode.NotFound, `Product ${productId} does not exist.`);
        const { id, name, description, priceCents, stock, version } = updated;
        await emit({
          type: 'ProductUpdated',
          aggregate: { type: 'Product', id: String(id) },
          data: { productId: id, name, description, priceCents, stock, version },
          invalidates: [staleEntries(productCacheType, [id])],
        });
        return updated;
      });
    },

    /** Admin: adds units to the stock. */
    async restock(productId: number, quantity: number): Promise<ProductRow> {
      requireRange('quantity', quantity, 1, MAX_STOCK);
      return events.transaction(async (tx, emit) => {
        const [updated] = await tx
          .update(products)
          .set({ stock: sql`${products.stock} + ${quantity}`, version: sql`${products.version} + 1`, updatedAt: new Date() })
          .where(and(eq(products.id, productId), sql`${products.stock} + ${quantity} <= ${MAX_STOCK}`))
          .returning();
        if (!updated) {
          const [existing] = await tx.select({ id: products.id }).from(products).where(eq(products.id, productId));
          if (!existing) throw new AppError(ErrorCode.NotFound, `Product ${productId} does not exist.`);
          throw badUserInput(`Stock cannot exceed ${MAX_STOCK}.`, { argumentName: 'quantity' });
        }
        await emit({
          type: 'ProductRestocked',
          aggregate: { type: 'Product', id: String(productId) },
          data: { productId, added: quantity, stock: updated.stock, version: updated.version },
          invalidates: [staleEntries(productCacheType, [productId], 'volatile')],
        });
        return updated;
      });
    },
  };
}

export type ProductService = ReturnType<typeof createProductService>;
