// What the cache needs to know about one kind of entry: where it lives and how it is encoded.
// Values are row data (never GraphQL objects), encoded compactly as JSON arrays in a fixed order.

export interface EntryLocation {
  /** Identifies the Redis key (and the unit of invalidation): an entity id, or a list's scope. */
  keyId: string;
  /** The hash field within that key: "_" for entities, the page arguments for lists. */
  field: string;
}

export interface CacheType<Id, Value> {
  /** Names the entries in keys, metrics, config and invalidation messages. */
  readonly name: string;
  /** Part of every key: bump it when `encode` changes, so old entries are never decoded. */
  readonly version: number;
  locate(id: Id): EntryLocation;
  encode(value: Value): string;
  decode(raw: string): Value;
  /**
   * Columns that change on their own, often (a product's stock, with its updatedAt): a change to
   * only them invalidates only this part (`staleEntries(type, ids, 'volatile')`), and a cached
   * response that read none of them stays a hit. Entity types only.
   */
  readonly volatilePart?: VolatilePart;
  /**
   * Keys (type key and key id) that every invalidation of this key also invalidates whole (an
   * order's list scopes, whose pages it is on). A response that read one of them first need not
   * record this key: its version there already guards it. Fewer dependencies, cheaper hits.
   */
  coveredBy?(value: Value, keyId: string): ReadonlyArray<readonly [type: string, keyId: string]>;
}

export interface VolatilePart {
  /** The GraphQL object type these rows are served as. */
  graphqlType: string;
  /** Its fields that read no volatile column; selecting any other field of it reads the volatile part. */
  stableFields: readonly string[];
}

export const ENTITY_FIELD = '_';

/** A cache key's versions as a script read them ('' for the volatile one of a type without a volatile part). */
export interface Versions {
  stable: string;
  volatile: string;
}

/** The type's segment in Redis keys: its name and encoding version, e.g. "Product.v1". */
export const cacheTypeKey = (type: Pick<CacheType<unknown, unknown>, 'name' | 'version'>) => `${type.name}.v${type.version}`;

/** Rows as positional arrays of the listed columns (dates as epoch milliseconds): compact, and no key names. */
export function rowCodec<Row extends object>(columns: ReadonlyArray<keyof Row & string>, dateColumns: ReadonlyArray<keyof Row & string> = []) {
  const isDate = columns.map((column) => dateColumns.includes(column));
  return {
    toValues: (row: Row): unknown[] =>
      columns.map((column, index) => (isDate[index] ? (row[column] as Date).getTime() : row[column])),
    fromValues: (values: unknown[]): Row => {
      const row: Record<string, unknown> = {};
      columns.forEach((column, index) => {
        row[column] = isDate[index] ? new Date(values[index] as number) : values[index];
      });
      return row as Row;
    },
  };
}

/** A cache type for table rows looked up by numeric id: one key per id. */
export function rowCacheType<Row extends object>(
  name: string,
  version: number,
  columns: ReadonlyArray<keyof Row & string>,
  dateColumns: ReadonlyArray<keyof Row & string> = [],
  volatilePart?: VolatilePart,
): CacheType<number, Row> {
  const codec = rowCodec(columns, dateColumns);
  return {
    name,
    version,
    volatilePart,
    locate: (id) => ({ keyId: String(id), field: ENTITY_FIELD }),
    encode: (row) => JSON.stringify(codec.toValues(row)),
    decode: (raw) => codec.fromValues(JSON.parse(raw) as unknown[]),
  };
}

/** A page of a list as cached: the ids in order (rows come from their own entries), and whether more follow. */
export interface IdPage {
  ids: number[];
  hasNextPage: boolean;
}

/**
 * A cache type for list pages: one key per scope (the unit of invalidation, e.g. one user's
 * orders), one hash field per page arguments.
 */
export function idPageCacheType<Key>(name: string, version: number, locate: (key: Key) => EntryLocation): CacheType<Key, IdPage> {
  return {
    name,
    version,
    locate,
    encode: (page) => JSON.stringify([page.hasNextPage ? 1 : 0, ...page.ids]),
    decode: (raw) => {
      const [hasNextPage, ...ids] = JSON.parse(raw) as number[];
      return { ids, hasNextPage: hasNextPage === 1 };
    },
  };
}
