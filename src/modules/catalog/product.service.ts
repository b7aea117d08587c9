import { and, asc, gt, ilike, or } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { products, type ProductRow } from '../../db/schema';
import { badUserInput } from '../../errors';
import { toPage, type Page, type PageRequest } from '../common/pagination';

export const MAX_SEARCH_LENGTH = 100;

/** `search` as a literal ILIKE pattern: % and _ typed by the user match themselves. */
function containsPattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

export function createProductService({ db }: { db: Db }) {
  return {
    async list(page: PageRequest, search?: string | null): Promise<Page<ProductRow>> {
      const term = search?.trim();
      if (term && term.length > MAX_SEARCH_LENGTH) {
        throw badUserInput(`\`search\` must be at most ${MAX_SEARCH_LENGTH} characters.`, { argumentName: 'search' });
      }
      const pattern = term ? containsPattern(term) : null;
      const rows = await db
        .select()
        .from(products)
        .where(
          and(
            page.afterId === null ? undefined : gt(products.id, page.afterId),
            pattern ? or(ilike(products.name, pattern), ilike(products.sku, pattern)) : undefined,
          ),
        )
        .orderBy(asc(products.id))
        .limit(page.first + 1);
      return toPage(rows, page);
    },
  };
}

export type ProductService = ReturnType<typeof createProductService>;
