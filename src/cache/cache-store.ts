// The cache-aside store under every DataLoader batch function: L1 (optional) → Redis → Postgres.
//
// One batch costs one Redis round trip when warm (readOrLease returns every value), and on misses
// one SQL statement plus one guarded write-back. Misses take leases, so of all readers of a cold key
// across all replicas one loads it while the others wait briefly and read it from Redis, and a
// reader whose lease was deleted by an invalidation cannot write back what it loaded before the
// write. Redis failing or slow never fails a read: the batch goes to Postgres (fail-open).
// Every value comes with its key's version, recorded for the response cache when a request asks.
// Invalidation is not done here: the outbox relay does it for every event (cache/invalidation.ts).
import type { RedisClient } from '../redis/client';
import type { RedisKeys } from '../redis/keys';
import type { CacheScripts } from '../redis/scripts';
import type { CacheStats } from '../observability/cache-counters';
import type { RequestUsage } from '../observability/request-usage';
import { cacheTypeKey, type CacheType, type Versions } from './cache-type';
import type { ResponseDependencies } from './dependencies';
import { readGeneration, uniqueToken } from './invalidation';
import type { L1Cache } from './l1';
import { LeaseWaiters, type PeekReply } from './lease-waiters';
import type { UnconfirmedInvalidations } from './unconfirmed-invalidations';

export interface CacheStoreOptions {
  /** A connection with the cache scripts, a command timeout and no offline queue (fail fast). */
  redis: RedisClient & CacheScripts;
  keys: RedisKeys;
  stats: CacheStats;
  l1?: L1Cache;
  /** Keys whose invalidation a mutation could not confirm: read around the cache until it is. */
  unconfirmed?: Pick<UnconfirmedInvalidations, 'isHeld' | 'isTypeHeld'>;
  /** Off: every read goes to Postgres (the benchmark's baseline). @default true */
  isEnabled?: boolean;
  /** Base TTL of values; each write gets ±10% jitter. */
  ttlMs: number;
  /** Per-type base TTL overrides, by type name. */
  ttlMsByType?: ReadonlyMap<string, number>;
  /** TTL of the "absent" marker for ids that do not exist. */
  negativeTtlMs: number;
  /** How long a lease protects a loading reader. @default 2000 */
  leaseTtlMs?: number;
  /** How long a reader waits for another's lease before reading Postgres itself. @default 1000 */
  leaseWaitMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * Loads the rows for ids from Postgres: one statement, results in the order of the ids, null when
 * absent. An Error in an id's slot fails that id alone (its readers get the Error, nothing is
 * cached); throwing fails every id it was given.
 */
export type LoadFromDatabase<Id, Value, Loaded extends Value | null | Error = Value | null> = (ids: Id[]) => Promise<Loaded[]>;

export interface CacheStore {
  /**
   * Values in the order of the ids (null when absent, or the Error `loadFromDatabase` put in an id's
   * slot). Rejects when `loadFromDatabase` throws; either way a failed entry's lease is released.
   * With `dependencies`, each key read is recorded with its version (or the response untracked);
   * with `usage`, the statements and round trips made for the caller's request are counted there.
   */
  load<Id, Value, Loaded extends Value | null | Error>(
    type: CacheType<Id, Value>,
    ids: readonly Id[],
    loadFromDatabase: LoadFromDatabase<Id, Value, Loaded>,
    dependencies?: ResponseDependencies,
    usage?: RequestUsage,
  ): Promise<Array<Value | null | Loaded>>;
  /**
   * For rows read without leases (a list page's rows): call before the query, then `fill` with
   * the rows after it. Null when the cache cannot be used (nothing will be filled).
   */
  readGeneration(type: CacheType<unknown, unknown>, usage?: RequestUsage): Promise<string | null>;
  /**
   * Caches rows read since `generation` was read, unless an entry of the type was invalidated in
   * between; with `dependencies`, records the rows' versions (untracked when refused).
   */
  fill<Id, Value>(
    type: CacheType<Id, Value>,
    entries: Array<[Id, Value]>,
    generation: string | null,
    dependencies?: ResponseDependencies,
    usage?: RequestUsage,
  ): Promise<void>;
}

/** What an absent row is cached as; no encoded value starts with "!". */
const ABSENT = '!';
const LEASE_TAKEN = 1;

interface Pending<Id> {
  index: number;
  id: Id;
  keyId: string;
  field: string;
}

export function createCacheStore(options: CacheStoreOptions): CacheStore {
  const { redis, keys, stats, l1, unconfirmed } = options;
  const isEnabled = options.isEnabled ?? true;
  const leaseTtlMs = options.leaseTtlMs ?? 2000;
  const leaseWaitMs = options.leaseWaitMs ?? 1000;
  const onError = options.onError ?? (() => undefined);

  // A lease wait's polls serve every waiter of the replica at once: counted here, not per request.
  const countRoundTrip = (usage?: RequestUsage) => {
    stats.redisRoundTrips += 1;
    if (usage) usage.redisRoundTrips += 1;
  };
  const jitteredTtlMs = (type: string, value: string) => {
    const base = value === ABSENT ? options.negativeTtlMs : (options.ttlMsByType?.get(type) ?? options.ttlMs);
    return Math.round(base * (0.9 + Math.random() * 0.2));
  };
  const keysOf = (type: string, entries: Array<Pick<Pending<unknown>, 'keyId'>>) =>
    entries.flatMap((entry) => [keys.cacheValue(type, entry.keyId), keys.cacheLease(type, entry.keyId)]);

  /** Whether the scripts read and create a key's volatile version too (the type has a volatile part). */
  const volatileFlag = (type: CacheType<never, unknown>) => (type.volatilePart ? '1' : '0');
  /** A script reply of three elements per entry: the value or a status, then the two versions. */
  const byEntry = (replies: unknown[], count: number) =>
    Array.from({ length: count }, (_, index): [unknown, Versions] => [
      replies[3 * index],
      { stable: String(replies[3 * index + 1]), volatile: String(replies[3 * index + 2]) },
    ]);

  /** How long a type's versions hash lives after its last new version (losing it only costs misses). */
  const versionsTtlMs = options.ttlMs * 2;
  /** Per entry: its field and key id (how the scripts find its value and its versions). */
  const fieldsAndKeyIds = (entries: Array<{ field: string; keyId: string }>) => entries.flatMap((entry) => [entry.field, entry.keyId]);

  const leaseWaiters = new LeaseWaiters(async (type, hasVolatilePart, entries) => {
    countRoundTrip();
    const replies = (await redis.peekEntries(
      entries.length * 2 + 1,
      ...keysOf(type, entries),
      keys.cacheVersions(type),
      uniqueToken(),
      versionsTtlMs,
      hasVolatilePart ? '1' : '0',
      ...fieldsAndKeyIds(entries),
    )) as unknown[];
    return byEntry(replies, entries.length).map(([reply, versions]): PeekReply => (typeof reply === 'string' ? { value: reply, versions } : (reply as 0 | 1)));
  });

  /** Per entry: the value, 1 (lease taken) or 0 (wait), and the key's versions (empty with 0). */
  async function readOrLease<Id>(type: CacheType<never, unknown>, entries: Array<Pending<Id>>, token: string, usage?: RequestUsage): Promise<Array<[unknown, Versions]>> {
    countRoundTrip(usage);
    const typeKey = cacheTypeKey(type);
    const replies = (await redis.readOrLease(
      entries.length * 2 + 1,
      ...keysOf(typeKey, entries as Array<Pending<unknown>>),
      keys.cacheVersions(typeKey),
      token,
      leaseTtlMs,
      versionsTtlMs,
      volatileFlag(type),
      ...fieldsAndKeyIds(entries),
    )) as unknown[];
    return byEntry(replies, entries.length);
  }

  async function writeLeased(type: CacheType<unknown, unknown>, entries: Array<Pending<unknown>>, encoded: string[], token: string, usage?: RequestUsage): Promise<void> {
    if (entries.length === 0) return;
    const args: Array<string | number> = [token];
    entries.forEach((entry, index) => args.push(entry.field, encoded[index]!, jitteredTtlMs(type.name, encoded[index]!)));
    countRoundTrip(usage);
    const written = (await redis.writeLeased(entries.length * 2, ...keysOf(cacheTypeKey(type), entries), ...args)) as number[];
    const writtenCount = written.filter((flag) => flag === 1).length;
    stats.add(type.name, 'writeBacks', writtenCount);
    stats.add(type.name, 'writeBacksDropped', written.length - writtenCount);
  }

  /**
   * Gives up this reader's leases of entries it failed to load, so their readers on every replica
   * read again now instead of waiting out a lease nobody will fill. Best-effort: when Redis cannot
   * be reached the leases expire by their TTL.
   */
  async function releaseLeases(type: string, entries: Array<Pending<unknown>>, token: string, usage?: RequestUsage): Promise<void> {
    if (entries.length === 0) return;
    const leaseKeys = entries.map((entry) => keys.cacheLease(type, entry.keyId));
    try {
      countRoundTrip(usage);
      await redis.releaseLeases(entries.length, ...leaseKeys, token, ...entries.map((entry) => entry.field));
    } catch (error) {
      onError(error);
    }
  }

  return {
    async load(type, ids, loadFromDatabase, dependencies, usage) {
      if (ids.length === 0) return [];
      if (!isEnabled) {
        dependencies?.untrack();
        if (usage) usage.sqlStatements += 1;
        return loadFromDatabase([...ids]);
      }
      const typeKey = cacheTypeKey(type as CacheType<unknown, unknown>);
      const results = new Array<unknown>(ids.length).fill(null);
      const decode = (raw: string) => (raw === ABSENT ? null : type.decode(raw));
      const encode = (value: unknown) => (value === null || value === undefined ? ABSENT : type.encode(value as never));

      const useL1 = l1?.usesType(type.name) ?? false;
      const l1Generation = l1?.currentGeneration() ?? 0;
      let pending: Array<Pending<(typeof ids)[number]>> = [];
      const held: typeof pending = [];
      ids.forEach((id, index) => {
        const { keyId, field } = type.locate(id);
        if (unconfirmed?.isHeld(typeKey, keyId)) return void held.push({ index, id, keyId, field });
        const cached = useL1 ? l1!.get(type.name, keyId, field) : undefined;
        if (cached === undefined) pending.push({ index, id, keyId, field });
        else results[index] = decode(cached);
      });
      stats.add(type.name, 'l1Hits', ids.length - pending.length - held.length);
      // An L1 value has no version: a response that used one cannot be guarded. Neither can a held key's row.
      if (pending.length < ids.length) dependencies?.untrack();

      const token = uniqueToken();
      const deadline = Date.now() + leaseWaitMs;
      const fillFromDatabase = async (entries: typeof pending) => {
        // One statement per call, by the contract of LoadFromDatabase.
        if (usage) usage.sqlStatements += 1;
        const rows = await loadFromDatabase(entries.map((entry) => entry.id));
        entries.forEach((entry, position) => (results[entry.index] = rows[position] ?? null));
        return rows;
      };
      const hit = (entry: (typeof pending)[number], raw: string, versions: Versions) => {
        const value = decode(raw);
        results[entry.index] = value;
        dependencies?.add(typeKey, entry.keyId, versions, value === null ? [] : type.coveredBy?.(value, entry.keyId));
        if (useL1) l1!.set(type.name, entry.keyId, entry.field, raw, l1Generation);
        stats.add(type.name, 'hits');
      };
      // Our leases: load, then write back what loaded and release what failed (all of them when the
      // load threw), so no reader anywhere waits for a lease that will not be filled.
      const loadAndWriteBack = async (leased: typeof pending) => {
        try {
          await fillFromDatabase(leased);
        } catch (error) {
          await releaseLeases(typeKey, leased, token, usage);
          throw error;
        }
        const isFailed = (entry: (typeof pending)[number]) => results[entry.index] instanceof Error;
        const loaded = leased.filter((entry) => !isFailed(entry));
        const writeBack = writeLeased(type as CacheType<unknown, unknown>, loaded, loaded.map((entry) => encode(results[entry.index])), token, usage);
        await Promise.all([
          writeBack.catch((error: unknown) => {
            stats.add(type.name, 'failOpens');
            onError(error);
          }),
          releaseLeases(typeKey, leased.filter(isFailed), token, usage),
        ]);
      };
      // Entries another reader holds the lease of: its value once written back, a retry (returned)
      // once the lease is gone (filled elsewhere, released, invalidated, expired), else Postgres.
      const waitForLeaseHolders = async (waiting: typeof pending): Promise<typeof pending> => {
        if (waiting.length === 0) return [];
        stats.add(type.name, 'leaseWaits', waiting.length);
        const outcomes = await Promise.all(
          waiting.map((entry) => leaseWaiters.wait(typeKey, !!type.volatilePart, entry.keyId, entry.field, deadline)),
        );
        const retry: typeof waiting = [];
        const timedOut: typeof waiting = [];
        outcomes.forEach((outcome, position) => {
          const entry = waiting[position]!;
          if (outcome.kind === 'value') hit(entry, outcome.raw, outcome.versions);
          else if (outcome.kind === 'retry' && Date.now() < deadline) retry.push(entry);
          else timedOut.push(entry);
        });
        if (timedOut.length > 0) {
          // The lease outlived our patience: read Postgres, and leave the cache to its holder.
          stats.add(type.name, 'leaseWaitTimeouts', timedOut.length);
          dependencies?.untrack();
          await fillFromDatabase(timedOut);
        }
        return retry;
      };

      if (held.length > 0) {
        stats.add(type.name, 'failOpens', held.length);
        await fillFromDatabase(held);
      }
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        let replies: Array<[unknown, Versions]>;
        try {
          replies = await readOrLease(type as CacheType<never, unknown>, pending, token, usage);
        } catch (error) {
          // Fail open: Redis is down or slow; Postgres answers and nothing is written back.
          stats.add(type.name, 'failOpens');
          onError(error);
          dependencies?.untrack();
          await fillFromDatabase(pending);
          break;
        }
        const leased: typeof pending = [];
        const waiting: typeof pending = [];
        pending.forEach((entry, position) => {
          const [reply, versions] = replies[position]!;
          if (typeof reply === 'string') hit(entry, reply, versions);
          else if (reply === LEASE_TAKEN) {
            // The versions when the lease was taken, before the load: any invalidation after it
            // deletes them, so what the load brings is guarded by them.
            dependencies?.add(typeKey, entry.keyId, versions);
            leased.push(entry);
          } else waiting.push(entry);
        });
        if (attempt === 0) stats.add(type.name, 'misses', leased.length + waiting.length);

        // Our leases load and write back while we wait for other readers' leases. Both are awaited
        // together, so our load failing while we wait is never an unhandled rejection.
        const [, retry] = await Promise.all([leased.length > 0 ? loadAndWriteBack(leased) : undefined, waitForLeaseHolders(waiting)]);
        pending = retry;
      }
      return results as never;
    },

    async readGeneration(type, usage) {
      if (!isEnabled) return null;
      try {
        countRoundTrip(usage);
        return await readGeneration(redis, keys.cacheGeneration(cacheTypeKey(type)));
      } catch (error) {
        onError(error);
        return null;
      }
    },

    async fill(type, entries, generation, dependencies, usage) {
      if (entries.length === 0) return;
      const typeKey = cacheTypeKey(type as CacheType<unknown, unknown>);
      // A held type's generation may not have moved for the write (its invalidation failed), so it
      // cannot refuse rows read before that write: nothing of the type is filled meanwhile.
      if (generation === null || unconfirmed?.isTypeHeld(typeKey)) return dependencies?.untrack();
      const args: Array<string | number> = [generation, uniqueToken(), versionsTtlMs, volatileFlag(type as CacheType<never, unknown>)];
      const keyIds: string[] = [];
      const valueKeys = entries.map(([id, value]) => {
        const { keyId, field } = type.locate(id);
        const encoded = type.encode(value);
        args.push(field, encoded, jitteredTtlMs(type.name, encoded), keyId);
        keyIds.push(keyId);
        return keys.cacheValue(typeKey, keyId);
      });
      let reply: number | [number, ...string[]];
      try {
        countRoundTrip(usage);
        reply = (await redis.fillUnchanged(
          valueKeys.length + 2,
          keys.cacheGeneration(typeKey),
          keys.cacheVersions(typeKey),
          ...valueKeys,
          ...args,
        )) as typeof reply;
      } catch (error) {
        onError(error);
        return dependencies?.untrack();
      }
      // -1: an entry of the type was invalidated since the generation was read; a row may be stale.
      if (!Array.isArray(reply)) return dependencies?.untrack();
      const [written, ...versions] = reply;
      if (written > 0) stats.add(type.name, 'writeBacks', written);
      keyIds.forEach((keyId, index) =>
        dependencies?.add(typeKey, keyId, { stable: versions[2 * index]!, volatile: versions[2 * index + 1]! }, type.coveredBy?.(entries[index]![1], keyId)),
      );
    },
  };
}

/**
 * The cache as one request's loaders see it: every key they read is recorded in `dependencies`
 * (when the response may be cached), and what they cost in `usage`. A class, so a request costs
 * one object here, not a closure per method.
 */
export class RequestScopedCache implements CacheStore {
  constructor(
    private readonly cache: CacheStore,
    private readonly dependencies?: ResponseDependencies,
    private readonly usage?: RequestUsage,
  ) {}

  load<Id, Value, Loaded extends Value | null | Error>(
    type: CacheType<Id, Value>,
    ids: readonly Id[],
    loadFromDatabase: LoadFromDatabase<Id, Value, Loaded>,
  ): Promise<Array<Value | null | Loaded>> {
    return this.cache.load(type, ids, loadFromDatabase, this.dependencies, this.usage);
  }

  readGeneration(type: CacheType<unknown, unknown>): Promise<string | null> {
    return this.cache.readGeneration(type, this.usage);
  }

  fill<Id, Value>(type: CacheType<Id, Value>, entries: Array<[Id, Value]>, generation: string | null): Promise<void> {
    return this.cache.fill(type, entries, generation, this.dependencies, this.usage);
  }
}

/** The cache recording what one request's loaders read (RequestScopedCache without usage). */
export function recordingDependencies(cache: CacheStore, dependencies: ResponseDependencies): CacheStore {
  return new RequestScopedCache(cache, dependencies);
}
