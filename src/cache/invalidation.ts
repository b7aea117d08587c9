// The cache's one invalidation protocol (invalidateEntries-n.lua), as the outbox relay and
// CacheStore.invalidate call it: which keys an invalidation touches, and the generation tokens.
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import type { RedisKeys } from '../redis/keys';

/** Some entries of one cache type that a change made stale. */
export interface StaleEntries {
  /** The cache type's key ("Product.v1"). */
  type: string;
  /** Its name ("Product"), as L1 messages carry it. */
  name: string;
  keyIds: readonly string[];
}

/** Tokens only need to be unique: a random per-process part and a counter, no crypto per call. */
const tokenPrefix = randomBytes(9).toString('base64url');
let tokenCount = 0;

/** A value never used before: a lease's token, or a generation (what an invalidation, or a first reader, sets). */
export const uniqueToken = (): string => `${tokenPrefix}.${(tokenCount += 1).toString(36)}`;

/** Arguments of one invalidateEntries call for `entries`; `l1Messages` are published by the script too. */
export function invalidationCall(
  keys: RedisKeys,
  entries: readonly StaleEntries[],
  l1Messages: readonly string[] = [],
): { numberOfKeys: number; keysAndArguments: string[] } {
  const generationKeys = [...new Set(entries.map((entry) => keys.cacheGeneration(entry.type)))];
  const staleKeys = entries.flatMap((entry) => entry.keyIds.flatMap((keyId) => [keys.cacheValue(entry.type, keyId), keys.cacheLease(entry.type, keyId)]));
  const allKeys = [...generationKeys, ...staleKeys];
  return {
    numberOfKeys: allKeys.length,
    keysAndArguments: [...allKeys, String(generationKeys.length), uniqueToken(), keys.cacheInvalidationChannel(), ...l1Messages],
  };
}

/**
 * The generation in force for a type: a type never invalidated, or whose generation was evicted,
 * starts at a new token (unless another reader set one first). Never '0' or any value a stored
 * response or fill could have been guarded by.
 */
export async function readGeneration(redis: Redis, generationKey: string): Promise<string> {
  const token = uniqueToken();
  return (await redis.set(generationKey, token, 'NX', 'GET')) ?? token;
}
