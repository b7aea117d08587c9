// A DataLoader for list pages on top of the cache: pages are cached as id lists (invalidated per
// scope), rows come from their entity loader (cached per row). On a miss the page query's rows are
// primed into the entity loader, so a cold page costs one statement and no second read.
//
// A bad key fails only its own page, never the pages it was batched with: a cursor past the id
// range is refused before any SQL, and a batch whose query throws anyway is run again key by key.
import DataLoader from 'dataloader';
import { asError } from '../../errors';
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

  /** The pages' ids, or an Error where a key's query failed; their rows are primed and cached. */
  async function loadIdPages(keys: Key[]): Promise<Array<IdPage | Error>> {
    const generation = await cache.readGeneration(rowCacheType as CacheType<unknown, unknown>);
    const fetched = await loadEachOnFailure(keys, options.loadFromDatabase);
    const filled = new Map<number, Row>();
    const idPages = fetched.map((rows, index) => {
      if (rows instanceof Error) return rows;
      const page = toPage(rows, keys[index]!);
      for (const row of page.rows) {
        rowById.prime(row.id, row);
        filled.set(row.id, row);
      }
      return { ids: page.rows.map((row) => row.id), hasNextPage: page.hasNextPage };
    });
    await cache.fill(rowCacheType, [...filled], generation);
    return idPages;
  }

  async function loadPages(keys: readonly Key[]): Promise<Array<Page<Row> | Error>> {
    if (keys.length === 0) return [];
    const idPages = await cache.load(cacheType, keys, loadIdPages);
    const ids = [...new Set(idPages.flatMap((page) => (page instanceof Error ? [] : (page?.ids ?? []))))];
    const rows = new Map<number, Row>();
    (await rowById.loadMany(ids)).forEach((row, index) => {
      if (row && !(row instanceof Error)) rows.set(ids[index]!, row);
    });
    return keys.map((key, index) => {
      const idPage = idPages[index];
      if (idPage instanceof Error) return idPage;
      return {
        // A row deleted between reading the page and reading the row is left out.
        rows: (idPage?.ids ?? []).flatMap((id) => rows.get(id) ?? []),
        hasNextPage: idPage?.hasNextPage ?? false,
        hasPreviousPage: key.afterId !== null,
      };
    });
  }

  return new DataLoader<Key, Page<Row>, string>(
    (keys) => loadPages(keys),
    { cacheKeyFn: options.cacheKeyOf },
  );
}

/**
 * Runs one batch's page queries; if they throw, runs each key alone, so only the keys whose own
 * query fails get the Error (in their slot) and the pages that merely shared a statement with them
 * still load. Bisecting would take fewer statements, but a batch should fail only on input that
 * validation missed or a database outage, and key by key is the simplest split that is always right.
 */
async function loadEachOnFailure<Key, Result>(keys: Key[], load: (keys: Key[]) => Promise<Result[]>): Promise<Array<Result | Error>> {
  try {
    return await load(keys);
  } catch (error) {
    if (keys.length < 2) return keys.map(() => asError(error));
    return Promise.all(keys.map((key) => load([key]).then(([result]) => result!, asError)));
  }
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
