// The cache's one invalidation protocol. Every change names the cache keys it makes stale
// (`staleEntries`, written into its outbox row); the outbox relay calls `invalidate` for them
// before it publishes the event, so no subscriber and no returning mutation sees an event whose
// stale entries survive. One script (invalidateEntries-n.lua) deletes each key's values, leases
// and version (so no lease holder writes back an older value, and no cached response recorded
// with that version is served again), and moves the type's generation (so a fill of rows read
// before it is refused). L1s, the responses held in memory and live queries hear of it from the
// event's publish script (`invalidationMessages`), or from `announceInvalidation` when the mutation
// had to invalidate itself.
import { randomBytes } from 'node:crypto';
import { publishCommandOf, type RedisClient } from '../redis/client';
import type { RedisKeys } from '../redis/keys';
import type { CacheScripts } from '../redis/scripts';
import { cacheTypeKey, ENTITY_FIELD, type CacheType } from './cache-type';
import { encodeInvalidationMessage } from './invalidation-message';

/** Some keys of one cache type that a change made stale (stored as JSON in the outbox row). */
export interface StaleEntries {
  /** The cache type's key ("Product.v1"). */
  type: string;
  /** Its name ("Product"), as L1 knows it. */
  name: string;
  keyIds: string[];
  /** 'volatile': the change touched only the type's volatile part (absent: the whole keys). */
  part?: 'volatile';
}

/**
 * The stale entries of `type`: entity ids, or list scopes; with 'volatile', a change to only the
 * type's volatile columns (a product's stock).
 */
export function staleEntries(type: CacheType<never, unknown>, keyIds: Array<string | number>, part?: 'volatile'): StaleEntries {
  if (part && !type.volatilePart) throw new Error(`cache type ${type.name} has no volatile part`);
  return { type: cacheTypeKey(type), name: type.name, keyIds: keyIds.map(String), ...(part && { part }) };
}

/** Cache keys per script call: bounds one call's run time on Redis. */
const KEYS_PER_CALL = 500;

/**
 * Invalidates `entries` (of any number of changes) on the cache's instance: one script call per
 * type (and per KEYS_PER_CALL keys), sent together. Each call touches one type's keys, which share
 * a hash slot, so on a Redis Cluster each goes to the master of its type; on one Redis the
 * connection's auto-pipelining sends them in one round trip. Rejects, once every call has
 * answered, if any failed; calling again is harmless.
 */
export async function invalidate(redis: RedisClient & CacheScripts, keys: RedisKeys, entries: readonly StaleEntries[]): Promise<void> {
  // Key ids per type and part; a key stale as a whole need not also lose its volatile part.
  const stale = new Map<string, { type: string; part: 'all' | 'volatile'; keyIds: Set<string> }>();
  for (const entry of entries) {
    const part = entry.part ?? 'all';
    const group = stale.get(`${entry.type} ${part}`) ?? { type: entry.type, part, keyIds: new Set<string>() };
    for (const keyId of entry.keyIds) group.keyIds.add(keyId);
    stale.set(`${entry.type} ${part}`, group);
  }
  for (const group of stale.values()) {
    if (group.part === 'volatile') for (const keyId of stale.get(`${group.type} all`)?.keyIds ?? []) group.keyIds.delete(keyId);
  }
  const calls: Array<Promise<unknown>> = [];
  for (const { type, part, keyIds } of stale.values()) {
    const all = [...keyIds];
    for (let start = 0; start < all.length; start += KEYS_PER_CALL) {
      const chunk = all.slice(start, start + KEYS_PER_CALL);
      const staleKeys = chunk.flatMap((keyId) => [keys.cacheValue(type, keyId), keys.cacheLease(type, keyId)]);
      calls.push(
        redis.invalidateEntries(
          staleKeys.length + 3,
          keys.cacheGeneration(type),
          keys.cacheStableGeneration(type),
          keys.cacheVersions(type),
          ...staleKeys,
          uniqueToken(),
          part,
          ENTITY_FIELD,
          ...chunk,
        ),
      );
    }
  }
  const failure = (await Promise.allSettled(calls)).find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}

/**
 * Tells every replica (its in-process copies and live queries) what `entries` made stale, on
 * the durable instance's invalidation channel: what the event's publish script does, for a
 * mutation whose event is late (it invalidated itself), so the message still precedes its answer.
 */
export async function announceInvalidation(durable: RedisClient, keys: RedisKeys, entries: readonly StaleEntries[]): Promise<void> {
  for (const message of invalidationMessages(entries)) await durable.call(publishCommandOf(durable), keys.cacheInvalidationChannel(), message);
}

/** What the publish script tells every replica (its L1 and live queries) about one write's `entries`: one message, or none. */
export function invalidationMessages(entries: readonly StaleEntries[]): string[] {
  const message = encodeInvalidationMessage(entries.map(({ name, keyIds, part }) => ({ type: name, keyIds, part })));
  return message === null ? [] : [message];
}

/** Tokens only need to be unique: a random per-process part and a counter, no crypto per call. */
const tokenPrefix = randomBytes(9).toString('base64url');
let tokenCount = 0;

/** A value never used before: a lease's token, a key's version, a generation. */
export const uniqueToken = (): string => `${tokenPrefix}.${(tokenCount += 1).toString(36)}`;

/**
 * The generation in force for a type: a type never invalidated, or whose generation was evicted,
 * starts at a new token (unless another reader set one first). Never '0' or any value a fill
 * could have been guarded by.
 */
export async function readGeneration(redis: RedisClient, generationKey: string): Promise<string> {
  const token = uniqueToken();
  return (await redis.set(generationKey, token, 'NX', 'GET')) ?? token;
}
