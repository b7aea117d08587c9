// Whole responses of read-only queries, cached in Redis as the bytes sent, so a repeated query
// skips GraphQL execution altogether: one MGET answers it. Correctness rests on the per-type
// generation tokens every invalidation replaces (invalidateEntries-n.lua): a response is stored
// with the generations, read at the start of its request, of every cache type its loaders
// touched, and is served only while all of them are unchanged. A change to any entry of those
// types makes it a miss, so no reader ever gets a response older than an acknowledged write;
// writes therefore lower the hit rate, never the freshness. A generation that is missing (never
// set, or evicted under memory pressure) matches no stored response: it gets a new token, never
// one a response was stored with.
//
// Only with the L1 off (an L1 may be briefly stale, and a response would keep that longer), only
// while this replica has no undelivered invalidations, and only for queries the HTTP layer deems
// cacheable (root fields that read through the loaders); the key includes the viewer.
//
// Client input decides what is stored, so storing is bounded (docs/cache.md): the key is the
// canonical request (http/cacheable-query.ts), a response over `maxResponseBytes` is not stored,
// and every store is paid for from a byte budget per client and one for the whole deployment,
// counted in Redis so every replica shares them.
import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisKeys } from '../redis/keys';
import type { CacheStore } from './cache-store';
import { cacheTypeKey, type CacheType } from './cache-type';
import { readGeneration } from './invalidation';

export interface ResponseCacheOptions {
  /** The cache's fail-fast connection. */
  redis: Redis;
  keys: RedisKeys;
  /** The cache types responses may read; a response that read any other is not stored. */
  types: ReadonlyArray<CacheType<never, unknown>>;
  ttlMs: number;
  /** A larger response (in bytes, as sent) is not stored. @default 262_144 */
  maxResponseBytes?: number;
  /** Bytes of stored responses all replicas together may hold at once. @default 67_108_864 */
  budgetBytes?: number;
  /** Bytes of stored responses one client (a viewer, else an address) may hold at once. @default 4_194_304 */
  clientBudgetBytes?: number;
  /** False while the cache cannot be trusted (undelivered invalidations). */
  isUsable(): boolean;
  /** Counts a Redis round trip (the cache's /metrics counter). */
  countRoundTrip?(): void;
  onError?(error: unknown): void;
}

/** A miss: what the response, once computed, is stored against. */
export interface ResponseMiss {
  key: string;
  /** Generation of each cache type when the request started (types without one are absent). */
  generations: Map<string, string>;
  /** Cache types the request's loaders touched (filled in during execution). */
  typesRead: Set<string>;
}

export type ResponseLookup = { body: string } | ResponseMiss | null;

const HEADER_END = '\n';
/**
 * Redis's own bookkeeping per key (dict and expiry entries, object headers, allocator rounding),
 * counted against the budgets: about 220 bytes for a 500-byte response on Redis 7.
 */
const ENTRY_OVERHEAD_BYTES = 256;

export class ResponseCache {
  /** The types' keys ("Product.v1"), whose generations are read with every lookup. */
  private readonly typeKeys: string[];
  private readonly maxResponseBytes: number;
  private readonly totalBudget: RateLimiterRedis;
  private readonly clientBudget: RateLimiterRedis;
  /** Stores on their way to Redis (see settled()). */
  private readonly storing = new Set<Promise<void>>();
  hits = 0;
  misses = 0;
  /** Bytes (keys and values) this replica wrote to Redis. */
  storedBytes = 0;

  constructor(private readonly options: ResponseCacheOptions) {
    const { redis, ttlMs, maxResponseBytes = 262_144, budgetBytes = 67_108_864, clientBudgetBytes = 4_194_304 } = options;
    this.typeKeys = options.types.map((type) => cacheTypeKey(type));
    this.maxResponseBytes = maxResponseBytes;
    // A response outlives the budget window it was stored in by at most one TTL, so the responses
    // of two windows coexist: each window may spend half of a budget.
    const windowSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const budget = (name: string, bytes: number) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${options.keys.responseCacheBudget()}:${name}`, points: Math.floor(bytes / 2), duration: windowSeconds });
    this.totalBudget = budget('total', budgetBytes);
    this.clientBudget = budget('client', clientBudgetBytes);
  }

  /** The Redis key of a response: the viewer's scope and the canonical request, hashed. */
  keyOf(viewerScope: string, canonicalRequest: string): string {
    const digest = createHash('sha1').update(`${viewerScope}\n${canonicalRequest}`).digest('base64url');
    return this.options.keys.cachedResponse(digest);
  }

  /** The stored body if it is still valid, else a miss to fill; null when the cache is not usable. */
  async lookup(key: string): Promise<ResponseLookup> {
    if (!this.options.isUsable()) return null;
    // Built per lookup: the keys carry the database identity, which a reseed changes.
    const generationKeys = this.typeKeys.map((type) => this.options.keys.cacheGeneration(type));
    let values: Array<string | null>;
    this.options.countRoundTrip?.();
    try {
      values = await this.options.redis.mget(key, ...generationKeys);
    } catch (error) {
      this.options.onError?.(error);
      return null;
    }
    const generations = new Map<string, string>();
    const starting: Array<Promise<void>> = [];
    this.typeKeys.forEach((type, index) => {
      const generation = values[index + 1];
      if (generation) generations.set(type, generation);
      else starting.push(this.startGeneration(generationKeys[index]!).then((started) => void (started && generations.set(type, started))));
    });
    await Promise.all(starting);
    const stored = values[0];
    if (stored) {
      const headerEnd = stored.indexOf(HEADER_END);
      if (headerEnd > 0 && isCurrent(stored.slice(0, headerEnd), generations)) {
        this.hits += 1;
        return { body: stored.slice(headerEnd + 1) };
      }
    }
    this.misses += 1;
    return { key, generations, typesRead: new Set() };
  }

  /**
   * A type without a generation (first use, or evicted) gets one; null when Redis did not answer
   * (responses that read the type are then not stored). Only this rare path costs a second round trip.
   */
  private async startGeneration(generationKey: string): Promise<string | null> {
    this.options.countRoundTrip?.();
    try {
      return await readGeneration(this.options.redis, generationKey);
    } catch (error) {
      this.options.onError?.(error);
      return null;
    }
  }

  /**
   * Stores a computed body in the background, unless it read a type without a known generation
   * (nothing would guard it), is too large, or `client` (who asked for it) or the deployment has
   * spent its budget.
   */
  store(miss: ResponseMiss, body: string, client: string): void {
    const header: string[] = [];
    for (const type of miss.typesRead) {
      const generation = miss.generations.get(type);
      if (generation === undefined) return;
      header.push(`${type}=${generation}`);
    }
    if (header.length === 0 || !this.options.isUsable()) return;
    if (Buffer.byteLength(body) > this.maxResponseBytes) return;
    const value = `${header.join(',')}${HEADER_END}${body}`;
    const bytes = Buffer.byteLength(miss.key) + Buffer.byteLength(value);
    const storing = this.storeWithinBudget(miss.key, value, bytes, client).finally(() => this.storing.delete(storing));
    this.storing.add(storing);
  }

  /** Resolves once every store started so far has been written or refused (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.storing.size > 0) await Promise.all(this.storing);
  }

  private async storeWithinBudget(key: string, value: string, bytes: number, client: string): Promise<void> {
    const { redis, ttlMs } = this.options;
    const cost = bytes + ENTRY_OVERHEAD_BYTES;
    // Over a budget, or Redis did not answer: not stored either way.
    const refused = (rejection: unknown) => {
      if (!(rejection instanceof RateLimiterRes)) this.options.onError?.(rejection);
      return false;
    };
    // The client's budget first: a client over its own budget spends nothing of the total.
    this.options.countRoundTrip?.();
    if (!(await this.clientBudget.consume(client, cost).then(() => true, refused))) return;
    this.options.countRoundTrip?.();
    if (!(await this.totalBudget.consume('all', cost).then(() => true, refused))) {
      // Nothing stored: the client gets back what it was charged (a consume counts even when it refuses).
      await this.clientBudget.reward(client, cost).catch(refused);
      return;
    }
    this.options.countRoundTrip?.();
    try {
      await redis.set(key, value, 'PX', ttlMs);
      this.storedBytes += bytes;
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}

function isCurrent(header: string, generations: Map<string, string>): boolean {
  for (const entry of header.split(',')) {
    const separator = entry.lastIndexOf('=');
    if (generations.get(entry.slice(0, separator)) !== entry.slice(separator + 1)) return false;
  }
  return true;
}

/** The cache as one request's loaders see it, noting every cache type they read. */
export function recordingTypesRead(cache: CacheStore, typesRead: Set<string>): CacheStore {
  return {
    ...cache,
    load(type, ids, loadFromDatabase) {
      typesRead.add(cacheTypeKey(type));
      return cache.load(type, ids, loadFromDatabase);
    },
    readGeneration(type) {
      typesRead.add(cacheTypeKey(type));
      return cache.readGeneration(type);
    },
  };
}
