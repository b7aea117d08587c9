import DataLoader from 'dataloader';
import type { CacheStore } from '../../cache/cache-store';
import { idPageCacheType, type CacheType } from '../../cache/cache-type';
import { orderedByKeys } from './batch';
import type { PageRequest } from './pagination';

/** Rows by id through the cache: one statement (`selectByIds`) for a batch's misses. */
export function createEntityLoader<Row extends { id: number }>(
  cache: CacheStore,
  cacheType: CacheType<number, Row>,
  selectByIds: (ids: number[]) => Promise<Row[]>,
): DataLoader<number, Row | null> {
  return new DataLoader((ids) =>
    cache.load(cacheType, ids, async (missing) => orderedByKeys(missing, await selectByIds(missing), (row) => row.id)),
  );
}

/** Pages of a whole table in id order: one scope ("all"), one field per (first, after). */
export function idOrderedPageCacheType(name: string): CacheType<PageRequest, { ids: number[]; hasNextPage: boolean }> {
  return idPageCacheType<PageRequest>(name, 1, (page) => ({ keyId: 'all', field: pageKeyOf(page) }));
}

/** Identifies equal page arguments. */
export const pageKeyOf = (page: PageRequest) => `${page.first}:${page.afterId ?? ''}`;
