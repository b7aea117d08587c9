// Whole responses of read-only queries, cached in Redis as the bytes sent, so a repeated query
// skips GraphQL execution altogether: one script call (readResponse-n.lua) answers it (on a Redis
// Cluster, two steps: response-lookup-cluster.ts). Correctness
// rests on the versions of cache keys (cache/dependencies.ts): a response is stored with the
// version of every entity and list scope its loaders read, each read in the same step as the
// value, and is served only while all of them are unchanged. Every acknowledged write has deleted
// the versions of what it changed before it was acknowledged, so no reader ever gets a response
// older than an acknowledged write, and a write makes exactly the responses that read what it
// changed misses: another user's order, or a product the response did not read, leaves it a hit.
//
// A response Redis served or stored is also held in this replica's memory (cache/response-l1.ts),
// and served from there once a PING proves no invalidation of it is pending: no Redis command of
// its own. Only with the entity L1 off (it may be briefly stale, and a response would keep that
// longer), and only for queries whose root fields the modules declare cacheable (`@Cacheable`); the key
// includes the viewer unless every root field is public.
//
// Client input decides what is stored, so storing is bounded (docs/cache.md): the key is the
// canonical request (http/cacheable-query.ts), a response over `maxResponseBytes` is not stored,
// and every store is paid for from a byte budget per client and one for the whole deployment,
// counted in Redis so every replica shares them (spendResponseBudget-2.lua, then the SET).
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { isCluster, type RedisClient } from '../redis/client';
import type { RedisKeys } from '../redis/keys';
import type { CacheScripts } from '../redis/scripts';
import { cacheTypeKey, type CacheType } from './cache-type';
import { ResponseDependencies } from './dependencies';
import { uniqueToken } from './invalidation';
import { readResponseAcrossSlots, type GenerationGroup, type ResponseReply } from './response-lookup-cluster';
import type { ResponseL1 } from './response-l1';
import { decodeStoredResponse, encodeStoredResponse } from './stored-response';
import type { RequestUsage } from '../observability/request-usage';

/** The field extension a module sets on a Query field whose answers may be cached whole. */
export const RESPONSE_CACHE_EXTENSION = 'responseCache';

/** How a root field's answers may be cached (the value of its RESPONSE_CACHE_EXTENSION). */
export interface CacheableField {
  /** 'public': the same for every viewer (shared); 'viewer': one per viewer. */
  scope: 'public' | 'viewer';
  /** Arguments that, when given, make the field read around the cache (never cached then). */
  unlessArguments?: readonly string[];
}

export interface ResponseCacheOptions {
  /** The cache's fail-fast connection, with the cache scripts. */
  redis: RedisClient & CacheScripts;
  keys: RedisKeys;
  /** Every cache type the loaders read: a lookup reads their generations. */
  types: ReadonlyArray<CacheType<never, unknown>>;
  ttlMs: number;
  /** A larger response (in bytes, as sent) is not stored. @default 262_144 */
  maxResponseBytes?: number;
  /** Bytes of stored responses all replicas together may hold at once. @default 67_108_864 */
  budgetBytes?: number;
  /** Bytes of stored responses one client (a viewer, else an address) may hold at once. @default 4_194_304 */
  clientBudgetBytes?: number;
  /**
   * Whether a mutation's invalidation is unconfirmed (cache/unconfirmed-invalidations.ts): a
   * response could then hold what it left stale, so none is served or stored meanwhile.
   */
  isSuspended?(): boolean;
  /** Responses held in this replica's memory too (cache/response-l1.ts). @default none */
  l1?: ResponseL1;
  /** Counts a Redis round trip (the cache's /metrics counter). */
  countRoundTrip?(): void;
  onError?(error: unknown): void;
}

/** A miss: where the response, once computed, is stored, and what its loaders read (filled in during execution). */
export interface ResponseMiss {
  key: string;
  dependencies: ResponseDependencies;
  /** The L1's generation before any loader read a version: the response is held in memory only if it has not moved. */
  l1Generation?: number;
}

/** A hit's body is the stored bytes, never decoded: they are sent as they are. */
export type ResponseLookup = { body: Buffer } | ResponseMiss | null;
/**
 * Redis's own bookkeeping per key (dict and expiry entries, object headers, allocator rounding),
 * counted against the budgets: about 220 bytes for a 500-byte response on Redis 7.
 */
const ENTRY_OVERHEAD_BYTES = 256;

export class ResponseCache {
  private readonly maxResponseBytes: number;
  /** A response outlives the budget window it was stored in by at most one TTL, so the responses of two windows coexist: each window may spend half of a budget. */
  private readonly windowBudgetBytes: number;
  private readonly clientWindowBudgetBytes: number;
  private readonly windowMs: number;
  /**
   * Digests of recent requests: a repeated request (what a cache serves) finds its digest here
   * for less than hashing costs. Bounded by size too: the requests are client input.
   */
  private readonly digests = new LRUCache<string, string>({ max: 10_000, maxSize: 8_000_000, sizeCalculation: (_digest, source) => source.length });
    /** Stores on their way to Redis (see settled()). */
  private readonly storing = new Set<Promise<void>>();
  hits = 0;
  misses = 0;
  /** Bytes (keys and values) this replica wrote to Redis. */
  storedBytes = 0;

  /**
   * The generations a lookup reads, by the names ResponseDependencies knows them by: of each type
   * ("<type>"), and of the stable part of types with a volatile one ("<type>:stable").
   */
  private readonly slots: Array<{ name: string; typeKey: string; key(keys: RedisKeys): string }>;
  /**
   * The slots' keys, built once per database identity (they carry it), not on every lookup; and
   * grouped by type, for a Redis Cluster (each type's keys share a hash slot).
   */
  private generationKeys = { versionsAround: { before: '', after: '' }, keys: [] as string[], groups: [] as GenerationGroup[] };

  constructor(private readonly options: ResponseCacheOptions) {
    this.slots = options.types.flatMap((type) => {
      const typeKey = cacheTypeKey(type);
      const anyChange = { name: typeKey, typeKey, key: (keys: RedisKeys) => keys.cacheGeneration(typeKey) };
      return type.volatilePart ? [anyChange, { name: `${typeKey}:stable`, typeKey, key: (keys: RedisKeys) => keys.cacheStableGeneration(typeKey) }] : [anyChange];
    });
    const { ttlMs, maxResponseBytes = 262_144, budgetBytes = 67_108_864, clientBudgetBytes = 4_194_304 } = options;
    this.maxResponseBytes = maxResponseBytes;
    this.windowMs = Math.max(1000, ttlMs);
    this.windowBudgetBytes = Math.floor(budgetBytes / 2);
    this.clientWindowBudgetBytes = Math.floor(clientBudgetBytes / 2);
  }

  /** The responses this replica also holds in memory (none on a Redis Cluster, or when configured off). */
  get l1(): ResponseL1 | undefined {
    return this.options.l1;
  }

  /** The Redis key of a response: the viewer's scope and the canonical request, hashed. */
  keyOf(viewerScope: string, canonicalRequest: string): string {
    const source = `${viewerScope}\n${canonicalRequest}`;
    let digest = this.digests.get(source);
    if (digest === undefined) this.digests.set(source, (digest = createHash('sha1').update(source).digest('base64url')));
    return this.options.keys.cachedResponse(digest);
  }

  /** The cache types with a volatile part (which documents read it is decided per document). */
  get volatileTypes(): ReadonlyArray<CacheType<never, unknown>> {
    return this.options.types.filter((type) => type.volatilePart);
  }

  /**
   * The stored body if it is still current, else a miss to fill (recording the volatile parts of
   * `readsVolatileOf` where the document reads them); null when Redis did not answer, or while
   * the cache is suspended.
   */
  async lookup(key: string, readsVolatileOf?: ReadonlySet<string>, usage?: RequestUsage): Promise<ResponseLookup> {
    const { redis, keys, l1 } = this.options;
    if (this.options.isSuspended?.()) return null;
    const held = await l1?.get(key);
    if (held) return { body: held };
    const l1Generation = l1?.currentGeneration();
    let reply: ResponseReply;
    this.options.countRoundTrip?.();
    if (usage) usage.redisRoundTrips += 1;
    const { versionsAround, keys: generationKeys, groups } = this.keysInForce();
    try {
      reply = isCluster(redis)
        ? await readResponseAcrossSlots(redis, keys, key, groups, uniqueToken())
        : ((await redis.readResponseBuffer(1 + generationKeys.length, key, ...generationKeys, versionsAround.before, versionsAround.after, uniqueToken())) as ResponseReply);
    } catch (error) {
      this.options.onError?.(error);
      return null;
    }
    if (Buffer.isBuffer(reply)) {
      // The script checked the header already: a value it cannot have found current is not one.
      const stored = decodeStoredResponse(reply);
      if (!stored) return null;
      if (l1Generation !== undefined) l1?.keep(key, stored.body, stored.header, l1Generation);
      return { body: stored.body };
    }
    const [, ...generations] = reply;
    const atStart = new Map(this.slots.map((slot, index) => [slot.name, { index, generation: String(generations[index]) }]));
    return { key, dependencies: new ResponseDependencies(readsVolatileOf, atStart), l1Generation };
  }

  /** Counts a lookup whose outcome was used (a public one read while a session was checked is not, when the check fails). */
  countLookup(lookup: ResponseLookup): void {
    if (lookup === null) return;
    if ('body' in lookup) this.hits += 1;
    else this.misses += 1;
  }

  /** The generation keys of the database identity in force (rebuilt when a reseed changed it). */
  private keysInForce(): ResponseCache['generationKeys'] {
    const versionsAround = this.options.keys.cacheVersionsAround();
    if (this.generationKeys.versionsAround.before !== versionsAround.before) {
      const generationKeys = this.slots.map((slot) => slot.key(this.options.keys));
      const groups = new Map<string, GenerationGroup>();
      this.slots.forEach((slot, position) => {
        const group = groups.get(slot.typeKey) ?? { keys: [], positions: [] };
        group.keys.push(generationKeys[position]!);
        group.positions.push(position);
        groups.set(slot.typeKey, group);
      });
      this.generationKeys = { versionsAround, keys: generationKeys, groups: [...groups.values()] };
    }
    return this.generationKeys;
  }

  /**
   * Stores a computed body in the background, unless something it read has no version (nothing
   * would guard it), it is too large, or `client` (who asked for it) or the deployment has spent
   * its budget.
   */
  store(miss: ResponseMiss, body: string, client: string): void {
    const header = miss.dependencies.header();
    if (header === null || Buffer.byteLength(body) > this.maxResponseBytes || this.options.isSuspended?.()) return;
    const value = encodeStoredResponse(header, body);
    const bytes = Buffer.byteLength(miss.key) + Buffer.byteLength(value);
    const storing = this.storeWithinBudget(miss.key, value, bytes, client)
      .then((isStored) => {
        if (isStored && miss.l1Generation !== undefined) this.options.l1?.keep(miss.key, Buffer.from(body), header, miss.l1Generation);
      })
      .finally(() => this.storing.delete(storing));
    this.storing.add(storing);
  }

  /** Resolves once every store started so far has been written or refused (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.storing.size > 0) await Promise.all(this.storing);
  }

  /** Whether the response was stored. */
  private async storeWithinBudget(key: string, value: string, bytes: number, client: string): Promise<boolean> {
    const { redis, keys, ttlMs } = this.options;
    this.options.countRoundTrip?.();
    try {
      const cost = bytes + ENTRY_OVERHEAD_BYTES;
      // Two steps, not one script: the budgets and the response are on different slots of a Redis Cluster.
      const spent = await redis.spendResponseBudget(2, keys.responseCacheBudget(client), keys.responseCacheBudget(), cost, this.clientWindowBudgetBytes, this.windowBudgetBytes, this.windowMs);
      if (spent !== 1) return false;
      this.options.countRoundTrip?.();
      await redis.set(key, value, 'PX', ttlMs);
      this.storedBytes += bytes;
      return true;
    } catch (error) {
      this.options.onError?.(error);
      return false;
    }
  }
}
