// Looks at cache entries the way Redis holds them (read with a connection of the test's own, not the
// gateway's), and invalidates them as a write would. (Tests that interleave a reader and a writer by
// hand take `deferred` from wait.ts.)
import { scanKeys, type RedisClient } from '../../src/redis/client';
import { cacheTypeKey, type CacheType } from '../../src/cache/cache-type';
import { announceInvalidation, invalidate, staleEntries } from '../../src/cache/invalidation';
import { defineCacheScripts } from '../../src/redis/scripts';
import type { RedisKeys } from '../../src/redis/keys';

/** What an absent row is cached as (see cache-store.ts). */
export const ABSENT_MARKER = '!';

export interface CacheEntry {
  /** The hash field's raw value: an encoded row, the absent marker, or null when there is no entry. */
  raw: string | null;
  /** PTTL of the value key: -2 when the key does not exist, -1 when it has no TTL. */
  ttlMs: number;
}

/** The Redis keys of one entity entry, as the gateway with these keys (`app.keys`) names them. */
export function entityKeys<Id>(keys: RedisKeys, type: CacheType<Id, unknown>, id: Id) {
  const typeName = cacheTypeKey(type);
  const { keyId } = type.locate(id);
  return { value: keys.cacheValue(typeName, keyId), lease: keys.cacheLease(typeName, keyId) };
}

export async function readCacheEntry<Id>(redis: RedisClient, keys: RedisKeys, type: CacheType<Id, unknown>, id: Id): Promise<CacheEntry> {
  const { value } = entityKeys(keys, type, id);
  const [raw, ttlMs] = await Promise.all([redis.hget(value, type.locate(id).field), redis.pttl(value)]);
  return { raw, ttlMs };
}

/** The cached row, null for "absent", undefined when nothing is cached. */
export async function readCachedValue<Id, Value>(
  redis: RedisClient,
  keys: RedisKeys,
  type: CacheType<Id, Value>,
  id: Id,
): Promise<Value | null | undefined> {
  const { raw } = await readCacheEntry(redis, keys, type, id);
  if (raw === null) return undefined;
  return raw === ABSENT_MARKER ? null : type.decode(raw);
}

/**
 * Invalidates keys of `type` exactly as the outbox relay does for an event that names them
 * (src/cache/invalidation.ts), on the gateway's own connections: the keys on the cache's, then
 * the message every replica's in-process copies hear on the durable one. A write's invalidation
 * without the write.
 */
export async function invalidateEntries(
  app: { redisConnections: { cache: RedisClient; command: RedisClient }; keys: RedisKeys },
  type: CacheType<never, unknown>,
  keyIds: Array<string | number>,
): Promise<void> {
  const entries = [staleEntries(type, keyIds)];
  await invalidate(defineCacheScripts(app.redisConnections.cache), app.keys, entries);
  await announceInvalidation(app.redisConnections.command, app.keys, entries);
}

/** Every key matching `pattern`, on every master of a Cluster (KEYS and SCAN see one server). */
export async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for await (const { keys } of scanKeys(redis, pattern)) found.push(...keys);
  return found;
}

