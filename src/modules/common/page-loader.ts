// A DataLoader for list pages on top of the cache: pages are cached as id lists (invalidated per
// scope), rows come from their entity loader (cached per row). On a miss the page query's rows are
// primed into the entity loader, so a cold page costs one statement and no second read.
import DataLoader from 'dataloader';
import type { CacheStore } from '../../cache/cache-store';
import type { CacheType, IdPage } from '../../cache/cache-type';
import { toPage, type Page, type PageRequest } from './pagination';

export interface PageLoaderOptions<Key extends PageRequest, Row extends { id: number }> {
  cache: CacheStore;
  cacheType: CacheType<Key, IdPage>;
  /** The rows' own cache type: a page's rows are filled into it, so rows and pages warm up together. */
  rowCacheType: CacheType<number, Row>;
  rowById: DataLoader<number, Row | null>;
  /** Up to `first + 1` rows for each key, in page order; one statement per batch where possible. */
  loadFromDatabase(keys: Key[]): Promise<Row[][]>;
  /** Identifies equal keys within a request. */
  cacheKeyOf(key: Key): string;
}

export function createPageLoader<Key extends PageRequest, Row extends { id: number }>(options: PageLoaderOptions<Key, Row>) {
  const { cache, cacheType, rowCacheType, rowById } = options;
  return new DataLoader<Key, Page<Row>, string>(
    async (keys) => {
      const idPages = await cache.load(cacheType, keys, async (missing) => {
        const generation = await cache.readGeneration(rowCacheType as CacheType<unknown, unknown>);
        const fetched = await options.loadFromDatabase(missing);
        const filled = new Map<number, Row>();
        const pages = fetched.map((rows, index) => {
          const page = toPage(rows, missing[index]!);
          for (const row of page.rows) {
            rowById.prime(row.id, row);
            filled.set(row.id, row);
          }
          return { ids: page.rows.map((row) => row.id), hasNextPage: page.hasNextPage };
        });
        await cache.fill(rowCacheType, [...filled], generation);
        return pages;
      });
      const ids = [...new Set(idPages.flatMap((page) => page?.ids ?? []))];
      const rows = new Map<number, Row>();
      (await rowById.loadMany(ids)).forEach((row, index) => {
        if (row && !(row instanceof Error)) rows.set(ids[index]!, row);
      });
      return keys.map((key, index) => ({
        // A row deleted between reading the page and reading the row is left out.
        rows: (idPages[index]?.ids ?? []).flatMap((id) => rows.get(id) ?? []),
        hasNextPage: idPages[index]?.hasNextPage ?? false,
        hasPreviousPage: key.afterId !== null,
      }));
    },
    { cacheKeyFn: options.cacheKeyOf },
  );
}

/** Runs `load` once per group of keys that share page arguments, and returns results in key order. */
export async function loadGrouped<Key, Result>(
  keys: readonly Key[],
  groupOf: (key: Key) => string,
  load: (group: Key[]) => Promise<Result[]>,
): Promise<Result[]> {
  const groups = new Map<string, number[]>();
  keys.forEach((key, index) => {
    const group = groupOf(key);
    groups.set(group, [...(groups.get(group) ?? []), index]);
  });
  const results = new Array<Result>(keys.length);
  for (const indexes of groups.values()) {
    const loaded = await load(indexes.map((index) => keys[index]!));
    indexes.forEach((keyIndex, position) => (results[keyIndex] = loaded[position]!));
  }
  return results;
}
