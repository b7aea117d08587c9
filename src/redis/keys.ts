// Every Redis key and channel name the gateway uses is built here, so a prefix change is one edit
// and scripts never assemble key names themselves.
//
// Keys holding state derived from the database (cache entries, responses, generations, sessions,
// published markers, projections) carry the database's identity after the prefix
// ("sg:<identity>:c:..."): after a reseed or a restore the gateway uses new keys and never trusts
// what was derived from the old data (see src/events/database-identity.ts). Streams, channels and
// login counters are not derived from the data and keep plain names.
//
// Hash tags (the "{...}" part: Redis Cluster puts keys with the same tag in the same hash slot)
// group what one script or transaction touches together, and nothing more, so the load spreads
// over a cluster's masters (docs/cache.md and docs/events.md, "Redis Cluster"):
// - {<Type>}: one cache type's values, leases, versions and generations (the cache scripts run per
//   type, and a key's versions are read in the same step as its value);
// - {events}: the streams, their dead letters, the published markers and the last published id,
//   the last noted database identity, and the channels the publish scripts announce on (L1
//   invalidations, published outbox rows, database changes: on a Cluster a script may SPUBLISH
//   only to its own slot);
// - {top-products}: the projection, its applied markers, rebuild lock and staging set;
// - {response-budget}: the byte budgets of stored responses;
// - no tag: cached responses (one slot each, by digest), sessions, rate-limit counters.
export interface RedisKeys {
  /** The last database identity a process noted here (adoptDatabase-n.lua): a change writes stream boundaries. */
  databaseIdentity(): string;
  /** Every process announces here the identity it starts working with (others then check theirs). */
  databaseChangedChannel(): string;
  /** SCAN pattern of every key derived from the database (of the identity these keys were built with). */
  derivedKeysPattern(): string;
  /** Highest outbox id published from this database: a database behind it was restored from a backup. */
  lastPublishedOutboxId(): string;
  /** Session record, by SHA-256 of the opaque token (the token itself is never stored). */
  session(tokenHash: string): string;
  /** Set of the session token hashes of one user, for logoutAll. */
  userSessions(userId: number): string;
  /** Cached value(s) of one cache key: a hash with one field for an entity, one per page for a list scope. */
  cacheValue(type: string, keyId: string): string;
  /** The versions of every key of a cache type, a hash by key id. Always `before + type + after` of `cacheVersionsAround()`. */
  cacheVersions(type: string): string;
  /** What surrounds the type in every cacheVersions key (readResponse-n.lua names a response's dependencies with it). */
  cacheVersionsAround(): { before: string; after: string };
  /** The leases of the fields of `cacheValue(type, keyId)`. */
  cacheLease(type: string, keyId: string): string;
  /** Moves with every invalidation of a cache type; a fill of rows read before a change is refused. */
  cacheGeneration(type: string): string;
  /** Moves with every invalidation of a cache type's keys as a whole (not of only their volatile part). */
  cacheStableGeneration(type: string): string;
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
  /** Prefix of the failed-login counters per (email, address) (rate-limiter-flexible appends its own key). */
  loginFailures(): string;
  /** Prefix of the failed-login counters per account, from addresses it does not know. */
  loginAccountFailures(): string;
  /** Marks an address as known to an account (it logged in from there lately). */
  knownLoginAddress(email: string, clientAddress: string): string;
  /** Prefix of the per-viewer query cost budgets (rate-limiter-flexible appends its own key). */
  costBudget(): string;
  /** Bytes of whole responses stored in the current window: by one client, or (no client) by everyone (on the cache's instance). */
  responseCacheBudget(client?: string): string;
  /** A cached whole response (response-cache.ts), by a digest of the viewer and the operation. */
  cachedResponse(digest: string): string;
  /** Pub/sub channel of a subscription topic, optionally narrowed (per user, per order...). */
  channel(topic: string, id?: unknown): string;
  /** An automatic persisted query's text, by its SHA-256 (hex): shared by every replica, not derived from the data. */
  persistedQuery(hash: string): string;
}

/**
 * `databaseIdentity` tells the current identity (DatabaseIdentity.current); without it only the
 * keys not derived from the database can be built (tests, tools reading streams).
 */
export function createRedisKeys(prefix: string, databaseIdentity?: () => string): RedisKeys {
  const derived = () => {
    if (!databaseIdentity) throw new Error('keys derived from the database need its identity');
    return `${prefix}:${databaseIdentity()}`;
  };
  return {
    databaseIdentity: () => `${prefix}:{events}:database`,
    databaseChangedChannel: () => `${prefix}:{events}:database-changed`,
    derivedKeysPattern: () => `${derived()}:*`,
    lastPublishedOutboxId: () => `${derived()}:{events}:outbox:last-published`,
    session: (tokenHash) => `${derived()}:session:${tokenHash}`,
    userSessions: (userId) => `${derived()}:user-sessions:${userId}`,
    cacheValue: (type, keyId) => `${derived()}:c:{${type}}:${keyId}`,
    cacheVersions: (type) => `${derived()}:v:{${type}}`,
    cacheVersionsAround: () => ({ before: `${derived()}:v:{`, after: '}' }),
    cacheLease: (type, keyId) => `${derived()}:l:{${type}}:${keyId}`,
    cacheGeneration: (type) => `${derived()}:g:{${type}}`,
    cacheStableGeneration: (type) => `${derived()}:g:{${type}}:stable`,
    cacheInvalidationChannel: () => `${prefix}:{events}:cache-invalidations`,
    stream: (name) => `${prefix}:{events}:stream:${name}`,
    deadLetterStream: (name) => `${prefix}:{events}:stream:${name}:dlq`,
    publishedOutboxRow: (outboxId) => `${derived()}:{events}:outbox:published:${outboxId}`,
    outboxPublishedChannel: () => `${prefix}:{events}:outbox-published`,
    topProducts: () => `${derived()}:{top-products}`,
    topProductsApplied: (eventId) => `${derived()}:{top-products}:applied:${eventId}`,
    topProductsRebuildLock: () => `${derived()}:{top-products}:rebuild-lock`,
    topProductsStaging: (token) => `${derived()}:{top-products}:staging:${token}`,
    sessionRevocationsChannel: () => `${prefix}:session-revocations`,
    loginFailures: () => `${prefix}:login-failures`,
    // "-account" rather than ":account": no account key can then equal a pair key, whatever the email holds.
    loginAccountFailures: () => `${prefix}:login-failures-account`,
    knownLoginAddress: (email, clientAddress) => `${prefix}:login-failures-known:${email}|${clientAddress}`,
    costBudget: () => `${prefix}:cost-budget`,
    responseCacheBudget: (client) => (client === undefined ? `${prefix}:{response-budget}:all` : `${prefix}:{response-budget}:client:${client}`),
    cachedResponse: (digest) => `${derived()}:r:${digest}`,
    channel: (topic, id) => (id === undefined ? `${prefix}:ch:${topic}` : `${prefix}:ch:${topic}:${String(id)}`),
    persistedQuery: (hash) => `${prefix}:apq:${hash}`,
  };
}
