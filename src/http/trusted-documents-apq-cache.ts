// Apollo's automatic persisted queries (APQ), stored in Redis so that a query registered through
// one replica is found by hash on every other: Apollo's `persistedQueries.cache` is this
// KeyValueCache, and trusted-documents.ts reads the same keys for hash-only requests (HTTP and
// websocket). It lives on the cache role (REDIS_CACHE_URL): a registration is rebuilt by any
// client that gets PERSISTED_QUERY_NOT_FOUND (it resends the query), so it may be evicted, and
// anonymous clients registering documents must not fill the durable, noeviction instance.
import type { RedisClient } from '../redis/client';
import { PrefixingKeyValueCache, type KeyValueCache, type KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import type { RedisKeys } from '../redis/keys';
import type { PersistedQueryStore } from './trusted-documents';

/** How long a registration lasts unless registered again: bounds what registrations can hold. */
export const APQ_TTL_SECONDS = 24 * 3600;

/** APQ texts by SHA-256 hex, at `keys.persistedQuery(hash)`. */
export class RedisPersistedQueryCache implements KeyValueCache<string>, PersistedQueryStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Pick<RedisKeys, 'persistedQuery'>,
  ) {}

  async get(hash: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.persistedQuery(hash))) ?? undefined;
  }

  async set(hash: string, query: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttl = options?.ttl ?? APQ_TTL_SECONDS;
    await this.redis.set(this.keys.persistedQuery(hash), query, 'EX', ttl);
  }

  async delete(hash: string): Promise<boolean> {
    return (await this.redis.del(this.keys.persistedQuery(hash))) > 0;
  }
}

/**
 * What Apollo gets as `persistedQueries.cache`. Apollo would prefix every key with "apq:"; the key
 * names come from keys.ts instead. In enforce mode registrations are dropped: only listed
 * documents run, so nothing registered could ever be used.
 */
export function apolloPersistedQueryCache(cache: RedisPersistedQueryCache, { acceptsRegistrations }: { acceptsRegistrations: boolean }): KeyValueCache<string> {
  const target: KeyValueCache<string> = acceptsRegistrations
    ? cache
    : { get: (hash) => cache.get(hash), set: async () => {}, delete: (hash) => cache.delete(hash) };
  return PrefixingKeyValueCache.cacheDangerouslyDoesNotNeedPrefixesForIsolation(target);
}
