// The cache-aside store under every DataLoader batch function: L1 (optional) → Redis → Postgres.
//
// One batch costs one Redis round trip when warm (readOrLease returns every value), and on misses
// one SQL statement plus one guarded write-back. Misses take leases, so of all readers of a cold key
// across all replicas one loads it while the others wait briefly and read it from Redis, and a
// reader whose lease was deleted by an invalidation cannot write back what it loaded before the
// write. Redis failing or slow never fails a read: the batch goes to Postgres (fail-open).
import type Redis from 'ioredis';
import type { RedisKeys } from '../redis/keys';
import type { CacheScripts } from '../redis/scripts';
import type { CacheStats } from '../observability/cache-counters';
import { cacheTypeKey, type CacheType } from './cache-type';
import { invalidationCall, readGeneration, uniqueToken } from './invalidation';
import { invalidationMessage, type L1Cache } from './l1';
import { LeaseWaiters } from './lease-waiters';

export interface CacheStoreOptions {
  /** A connection with the cache scripts, a command timeout and no offline queue (fail fast). */
  redis: Redis & CacheScripts;
  keys: RedisKeys;
  stats: CacheStats;
  l1?: L1Cache;
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
   */
  load<Id, Value, Loaded extends Value | null | Error>(
    type: CacheType<Id, Value>,
    ids: readonly Id[],
    loadFromDatabase: LoadFromDatabase<Id, Value, Loaded>,
  ): Promise<Array<Value | null | Loaded>>;
  /**
   * Deletes the values and leases of these keys (entity ids or list scopes) in one round trip, and
   * tells every replica's L1. Never throws: if Redis cannot be reached the keys are kept and sent
   * again when it is back, and until then this replica reads around the cache.
   */
  invalidate(type: CacheType<unknown, unknown>, keyIds: readonly string[]): Promise<void>;
  /** Stops retrying undelivered invalidations (the app is stopping). */
  close(): void;
  /** Invalidations not yet delivered to Redis (key count). */
  pendingInvalidations(): number;
  /** Resolves once no invalidation is waiting for Redis. */
  invalidationsDelivered(): Promise<void>;
  /**
   * For rows read without leases (a list page's rows): call before the query, then `fill` with
   * the rows after it. Null when the cache cannot be used (nothing will be filled).
   */
  readGeneration(type: CacheType<unknown, unknown>): Promise<string | null>;
  /** Caches rows read since `generation` was read, unless an entry of the type was invalidated in between. */
  fill<Id, Value>(type: CacheType<Id, Value>, entries: Array<[Id, Value]>, generation: string | null): Promise<void>;
}

/** What an absent row is cached as; no encoded value starts with "!". */
const ABSENT = '!';
const LEASE_TAKEN = 1;
const INVALIDATION_CHUNK = 500;
const UNDELIVERED_RETRY_MS = 500;

interface Pending<Id> {
  index: number;
  id: Id;
  keyId: string;
  field: string;
}

export function createCacheStore(options: CacheStoreOptions): CacheStore {
  const { redis, keys, stats, l1 } = options;
  const isEnabled = options.isEnabled ?? true;
  const leaseTtlMs = options.leaseTtlMs ?? 2000;
  const leaseWaitMs = options.leaseWaitMs ?? 1000;
  const onError = options.onError ?? (() => undefined);

  const countRoundTrip = () => {
    stats.redisRoundTrips += 1;
  };
  const jitteredTtlMs = (type: string, value: string) => {
    const base = value === ABSENT ? options.negativeTtlMs : (options.ttlMsByType?.get(type) ?? options.ttlMs);
    return Math.round(base * (0.9 + Math.random() * 0.2));
  };
  const undelivered = new Map<CacheType<unknown, unknown>, Set<string>>();
  const countUndelivered = () => [...undelivered.values()].reduce((sum, ids) => sum + ids.size, 0);

  async function sendInvalidation(type: CacheType<unknown, unknown>, keyIds: readonly string[]): Promise<void> {
    const name = cacheTypeKey(type);
    for (let start = 0; start < keyIds.length; start += INVALIDATION_CHUNK) {
      const chunk = keyIds.slice(start, start + INVALIDATION_CHUNK);
      const { numberOfKeys, keysAndArguments } = invalidationCall(keys, [{ type: name, name: type.name, keyIds: chunk }], [
        invalidationMessage(type.name, chunk),
      ]);
      countRoundTrip();
      await redis.invalidateEntries(numberOfKeys, ...keysAndArguments);
    }
  }

  // Undelivered invalidations are sent again when the connection is back ('ready'), and on a
  // timer too: a call can time out while the connection stays up.
  let retryTimer: NodeJS.Timeout | undefined;
  let isClosed = false;
  const onDelivered: Array<() => void> = [];
  async function deliverUndelivered(): Promise<void> {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    for (const [type, keyIds] of [...undelivered]) {
      try {
        await sendInvalidation(type, [...keyIds]);
        undelivered.delete(type);
      } catch (error) {
        onError(error);
        break;
      }
    }
    if (undelivered.size === 0) {
      for (const resolve of onDelivered.splice(0)) resolve();
    } else if (!isClosed) {
      retryTimer ??= setTimeout(() => void deliverUndelivered(), UNDELIVERED_RETRY_MS);
      retryTimer.unref();
    }
  }
  const onReady = () => void deliverUndelivered();
  redis.on('ready', onReady);

  const keysOf = (type: string, entries: Array<Pick<Pending<unknown>, 'keyId'>>) =>
    entries.flatMap((entry) => [keys.cacheValue(type, entry.keyId), keys.cacheLease(type, entry.keyId)]);

  const leaseWaiters = new LeaseWaiters(async (type, entries) => {
    countRoundTrip();
    return (await redis.peekEntries(entries.length * 2, ...keysOf(type, entries), ...entries.map((entry) => entry.field))) as unknown[];
  });

  async function readOrLease<Id>(type: string, entries: Array<Pending<Id>>, token: string): Promise<unknown[]> {
    countRoundTrip();
    return (await redis.readOrLease(
      entries.length * 2,
      ...keysOf(type, entries as Array<Pending<unknown>>),
      token,
      leaseTtlMs,
      ...entries.map((entry) => entry.field),
    )) as unknown[];
  }

  async function writeLeased(type: CacheType<unknown, unknown>, entries: Array<Pending<unknown>>, encoded: string[], token: string): Promise<void> {
    if (entries.length === 0) return;
    const args: Array<string | number> = [token];
    entries.forEach((entry, index) => args.push(entry.field, encoded[index]!, jitteredTtlMs(type.name, encoded[index]!)));
    countRoundTrip();
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
  async function releaseLeases(type: string, entries: Array<Pending<unknown>>, token: string): Promise<void> {
    if (entries.length === 0) return;
    const leaseKeys = entries.map((entry) => keys.cacheLease(type, entry.keyId));
    try {
      countRoundTrip();
      await redis.releaseLeases(entries.length, ...leaseKeys, token, ...entries.map((entry) => entry.field));
    } catch (error) {
      onError(error);
    }
  }

  return {
    async load(type, ids, loadFromDatabase) {
      if (!isEnabled || ids.length === 0) return loadFromDatabase([...ids]);
      if (undelivered.size > 0) {
        // Redis may still hold entries this replica invalidated while it was unreachable.
        stats.add(type.name, 'failOpens');
        return loadFromDatabase([...ids]);
      }
      const name = cacheTypeKey(type as CacheType<unknown, unknown>);
      const results = new Array<unknown>(ids.length).fill(null);
      const decode = (raw: string) => (raw === ABSENT ? null : type.decode(raw));
      const encode = (value: unknown) => (value === null || value === undefined ? ABSENT : type.encode(value as never));

      const useL1 = l1?.usesType(type.name) ?? false;
      const l1Generation = l1?.currentGeneration() ?? 0;
      let pending: Array<Pending<(typeof ids)[number]>> = [];
      ids.forEach((id, index) => {
        const { keyId, field } = type.locate(id);
        const cached = useL1 ? l1!.get(type.name, keyId, field) : undefined;
        if (cached === undefined) pending.push({ index, id, keyId, field });
        else results[index] = decode(cached);
      });
      stats.add(type.name, 'l1Hits', ids.length - pending.length);

      const token = uniqueToken();
      const deadline = Date.now() + leaseWaitMs;
      const fillFromDatabase = async (entries: typeof pending) => {
        const rows = await loadFromDatabase(entries.map((entry) => entry.id));
        entries.forEach((entry, position) => (results[entry.index] = rows[position] ?? null));
        return rows;
      };
      const hit = (entry: (typeof pending)[number], raw: string) => {
        results[entry.index] = decode(raw);
        if (useL1) l1!.set(type.name, entry.keyId, entry.field, raw, l1Generation);
        stats.add(type.name, 'hits');
      };
      // Our leases: load, then write back what loaded and release what failed (all of them when the
      // load threw), so no reader anywhere waits for a lease that will not be filled.
      const loadAndWriteBack = async (leased: typeof pending) => {
        try {
          await fillFromDatabase(leased);
        } catch (error) {
          await releaseLeases(name, leased, token);
          throw error;
        }
        const isFailed = (entry: (typeof pending)[number]) => results[entry.index] instanceof Error;
        const loaded = leased.filter((entry) => !isFailed(entry));
        const writeBack = writeLeased(type as CacheType<unknown, unknown>, loaded, loaded.map((entry) => encode(results[entry.index])), token);
        await Promise.all([
          writeBack.catch((error: unknown) => {
            stats.add(type.name, 'failOpens');
            onError(error);
          }),
          releaseLeases(name, leased.filter(isFailed), token),
        ]);
      };
      // Entries another reader holds the lease of: its value once written back, a retry (returned)
      // once the lease is gone (filled elsewhere, released, invalidated, expired), else Postgres.
      const waitForLeaseHolders = async (waiting: typeof pending): Promise<typeof pending> => {
        if (waiting.length === 0) return [];
        stats.add(type.name, 'leaseWaits', waiting.length);
        const outcomes = await Promise.all(waiting.map((entry) => leaseWaiters.wait(name, entry.keyId, entry.field, deadline)));
        const retry: typeof waiting = [];
        const timedOut: typeof waiting = [];
        outcomes.forEach((outcome, position) => {
          const entry = waiting[position]!;
          if (outcome.kind === 'value') hit(entry, outcome.raw);
          else if (outcome.kind === 'retry' && Date.now() < deadline) retry.push(entry);
          else timedOut.push(entry);
        });
        if (timedOut.length > 0) {
          // The lease outlived our patience: read Postgres, and leave the cache to its holder.
          stats.add(type.name, 'leaseWaitTimeouts', timedOut.length);
          await fillFromDatabase(timedOut);
        }
        return retry;
      };

      for (let attempt = 0; pending.length > 0; attempt += 1) {
        let replies: unknown[];
        try {
          replies = await readOrLease(name, pending, token);
        } catch (error) {
          // Fail open: Redis is down or slow; Postgres answers and nothing is written back.
          stats.add(type.name, 'failOpens');
          onError(error);
          await fillFromDatabase(pending);
          break;
        }
        const leased: typeof pending = [];
        const waiting: typeof pending = [];
        pending.forEach((entry, position) => {
          const reply = replies[position];
          if (typeof reply === 'string') hit(entry, reply);
          else if (reply === LEASE_TAKEN) leased.push(entry);
          else waiting.push(entry);
        });
        if (attempt === 0) stats.add(type.name, 'misses', leased.length + waiting.length);

        // Our leases load and write back while we wait for other readers' leases. Both are awaited
        // together, so our load failing while we wait is never an unhandled rejection.
        const [, retry] = await Promise.all([leased.length > 0 ? loadAndWriteBack(leased) : undefined, waitForLeaseHolders(waiting)]);
        pending = retry;
      }
      return results as never;
    },

    async invalidate(type, keyIds) {
      if (keyIds.length === 0) return;
      l1?.invalidate(type.name, keyIds);
      stats.add(type.name, 'invalidations', keyIds.length);
      try {
        await sendInvalidation(type, keyIds);
      } catch (error) {
        onError(error);
        const pending = undelivered.get(type) ?? new Set<string>();
        for (const keyId of keyIds) pending.add(keyId);
        undelivered.set(type, pending);
        if (!retryTimer && !isClosed) {
          retryTimer = setTimeout(() => void deliverUndelivered(), UNDELIVERED_RETRY_MS);
          retryTimer.unref();
        }
      }
    },

    close() {
      isClosed = true;
      clearTimeout(retryTimer);
      redis.off('ready', onReady);
    },

    pendingInvalidations: countUndelivered,
    invalidationsDelivered: () =>
      undelivered.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => onDelivered.push(resolve)),

    async readGeneration(type) {
      if (!isEnabled || undelivered.size > 0) return null;
      try {
        countRoundTrip();
        return await readGeneration(redis, keys.cacheGeneration(cacheTypeKey(type)));
      } catch (error) {
        onError(error);
        return null;
      }
    },

    async fill(type, entries, generation) {
      if (generation === null || entries.length === 0) return;
      const name = cacheTypeKey(type as CacheType<unknown, unknown>);
      const args: Array<string | number> = [generation];
      const valueKeys = entries.map(([id, value]) => {
        const { keyId, field } = type.locate(id);
        const encoded = type.encode(value);
        args.push(field, encoded, jitteredTtlMs(type.name, encoded));
        return keys.cacheValue(name, keyId);
      });
      try {
        countRoundTrip();
        const written = (await redis.fillUnchanged(valueKeys.length + 1, keys.cacheGeneration(name), ...valueKeys, ...args)) as number;
        if (written > 0) stats.add(type.name, 'writeBacks', written);
      } catch (error) {
        onError(error);
      }
    },
  };
}
