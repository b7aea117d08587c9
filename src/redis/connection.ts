// Redis connections by role. Commands and subscriptions need separate connections (a subscribed
// connection can run nothing else); later roles (blocking stream reads) get their own too.
import Redis, { type RedisOptions } from 'ioredis';
import { redactUrl } from '../config';
import { describeError } from '../errors';

export interface RedisConnectionOptions {
  url: string;
  /** How long the first connection attempt may take. @default 2000 */
  connectTimeoutMs?: number;
  /** Shown in CLIENT LIST, to tell replicas and roles apart. */
  connectionName?: string;
}

/** What a user who sees RedisUnreachableError at start-up should do. */
export const REDIS_START_HINT =
  'Start Redis (install redis-server and run it, or `docker compose up -d redis`), or point REDIS_URL at a running one.';

export class RedisUnreachableError extends Error {
  override readonly name = 'RedisUnreachableError';
}

function baseOptions(options: RedisConnectionOptions): RedisOptions {
  return {
    connectTimeout: options.connectTimeoutMs ?? 2000,
    connectionName: options.connectionName,
    lazyConnect: true,
    // Keep reconnecting with a capped backoff: a restarted Redis is picked up again by itself.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  };
}

/** Opens a connection and fails fast with RedisUnreachableError when the first connect fails. */
export async function connectRedis(options: RedisConnectionOptions, extra: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(options.url, { ...baseOptions(options), ...extra, retryStrategy: () => null });
  // The socket's own error (ECONNREFUSED...) says more than the "Connection is closed." connect() rejects with.
  let socketError: unknown;
  redis.on('error', (error) => (socketError = error));
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    const reason = describeError(socketError ?? error);
    throw new RedisUnreachableError(`Cannot reach Redis at ${redactUrl(options.url)} (${reason})`);
  }
  // From now on errors are reconnects in progress, which ioredis retries by itself.
  redis.options.retryStrategy = baseOptions(options).retryStrategy;
  return redis;
}

/**
 * quit() lets pending replies arrive; a connection that is not up is disconnected instead, which
 * also cancels its reconnect timer, so a stopped process never reconnects later.
 */
export async function closeRedisConnections(connections: readonly Redis[]): Promise<void> {
  await Promise.all(
    connections.map((connection) =>
      connection.status === 'ready' ? connection.quit().then(() => undefined, () => connection.disconnect()) : connection.disconnect(),
    ),
  );
}

export interface RedisConnections {
  /** Sessions, rate limits, publishing: commands that wait for a reconnect (briefly). */
  command: Redis;
  /** Subscriptions only (pub/sub for GraphQL subscriptions and L1 invalidations). */
  subscriber: Redis;
  /**
   * The cache (entries, leases, generations, whole responses), on REDIS_CACHE_URL when set: fails
   * fast (no offline queue, a command timeout) so reads can fail open to Postgres.
   */
  cache: Redis;
  /** True when the cache has an instance of its own. */
  isCacheSeparate: boolean;
  close(): Promise<void>;
}

/**
 * The durable role's memory policy, when it is one that evicts (sessions, streams and markers would
 * be dropped under memory pressure), else null. Null too when CONFIG is not allowed (managed Redis).
 */
export async function evictingMemoryPolicy(redis: Redis): Promise<string | null> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    return policy && policy !== 'noeviction' ? policy : null;
  } catch {
    return null;
  }
}

/** Opens the connections of every role; fails fast with RedisUnreachableError. */
export async function connectRedisConnections(
  options: RedisConnectionOptions & {
    cacheTimeoutMs: number;
    /** The cache's own instance (REDIS_CACHE_URL). @default options.url */
    cacheUrl?: string;
  },
): Promise<RedisConnections> {
  const opened: Redis[] = [];
  const close = () => closeRedisConnections(opened);
  const open = async (role: string, extra: RedisOptions, url = options.url) => {
    try {
      const connection = await connectRedis({ ...options, url, connectionName: `streamgate:${role}` }, extra);
      opened.push(connection);
      return connection;
    } catch (error) {
      await close();
      throw error;
    }
  };
  // Auto-pipelining here too: every authenticated request checks its session on this connection,
  // and concurrent requests' commands then share one socket write (one syscall each was a fifth
  // of the gateway's time serving cached answers).
  const command = await open('command', { maxRetriesPerRequest: 1, enableAutoPipelining: true });
  const subscriber = await open('subscriber', {});
  // Auto-pipelining: the cache batches of concurrent requests share round trips.
  const cache = await open('cache', {
    enableOfflineQueue: false,
    commandTimeout: options.cacheTimeoutMs,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
  }, options.cacheUrl ?? options.url);
  return { command, subscriber, cache, isCacheSeparate: (options.cacheUrl ?? options.url) !== options.url, close };
}
