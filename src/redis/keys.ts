// Every Redis key and channel name the gateway uses is built here, so a prefix change (or a
// Redis Cluster hash tag) is one edit and scripts never assemble key names themselves.
export interface RedisKeys {
  /** Session record, by SHA-256 of the opaque token (the token itself is never stored). */
  session(tokenHash: string): string;
  /** Set of the session token hashes of one user, for logoutAll. */
  userSessions(userId: number): string;
  /** Cached value(s) of one cache key: a hash with one field for an entity, one per page for a list scope. */
  cacheValue(type: string, keyId: string): string;
  /** The leases of the fields of `cacheValue(type, keyId)`. */
  cacheLease(type: string, keyId: string): string;
  /** Counts the invalidations of a cache type; a fill of rows read before a change is refused. */
  cacheGeneration(type: string): string;
  /** Pub/sub channel telling every replica's L1 which cache keys were invalidated. */
  cacheInvalidationChannel(): string;
  /** A domain stream (orders, catalog, users). */
  stream(name: string): string;
  /** Where a stream's consumers put entries that failed too often. */
  deadLetterStream(name: string): string;
  /** Marks an outbox row as published, holding its stream id: republishing it is a no-op. */
  publishedOutboxRow(outboxId: number): string;
  /** The relay announces each published outbox id here, so the mutation that wrote it can return. */
  outboxPublishedChannel(): string;
  /** The top-products projection: a sorted set of units sold by product id. */
  topProducts(): string;
  /** Marks an order event as applied to topProducts (with a TTL): a redelivered event changes nothing. */
  topProductsApplied(eventId: string): string;
  /** Held (with the rebuild's token) while `--rebuild top-products` runs: the projection waits meanwhile. */
  topProductsRebuildLock(): string;
  /** Where a rebuild assembles the new sorted set before renaming it over topProducts. */
  topProductsStaging(token: string): string;
  /** Pub/sub channel announcing revoked sessions, so every replica closes their websockets. */
  sessionRevocationsChannel(): string;
  /** Prefix of the failed-login counters (rate-limiter-flexible appends its own key). */
  loginFailures(): string;
  /** A cached whole response (response-cache.ts), by a digest of the viewer and the operation. */
  cachedResponse(digest: string): string;
  /** Pub/sub channel of a subscription topic, optionally narrowed (per user, per order...). */
  channel(topic: string, id?: unknown): string;
}

export function createRedisKeys(prefix: string): RedisKeys {
  return {
    session: (tokenHash) => `${prefix}:session:${tokenHash}`,
    userSessions: (userId) => `${prefix}:user-sessions:${userId}`,
    cacheValue: (type, keyId) => `${prefix}:c:${type}:${keyId}`,
    cacheLease: (type, keyId) => `${prefix}:l:${type}:${keyId}`,
    cacheGeneration: (type) => `${prefix}:g:${type}`,
    cacheInvalidationChannel: () => `${prefix}:cache-invalidations`,
    stream: (name) => `${prefix}:stream:${name}`,
    deadLetterStream: (name) => `${prefix}:stream:${name}:dlq`,
    publishedOutboxRow: (outboxId) => `${prefix}:outbox:published:${outboxId}`,
    outboxPublishedChannel: () => `${prefix}:outbox-published`,
    topProducts: () => `${prefix}:top-products`,
    topProductsApplied: (eventId) => `${prefix}:top-products:applied:${eventId}`,
    topProductsRebuildLock: () => `${prefix}:top-products:rebuild-lock`,
    topProductsStaging: (token) => `${prefix}:top-products:staging:${token}`,
    sessionRevocationsChannel: () => `${prefix}:session-revocations`,
    loginFailures: () => `${prefix}:login-failures`,
    cachedResponse: (digest) => `${prefix}:r:${digest}`,
    channel: (topic, id) => (id === undefined ? `${prefix}:ch:${topic}` : `${prefix}:ch:${topic}:${String(id)}`),
  };
}
