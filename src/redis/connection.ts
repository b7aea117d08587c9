// Redis connections by role. Commands and subscriptions need separate connections (a subscribed
// connection can run nothing else); later roles (blocking stream reads) get their own too. A role
// is one server (a URL) or the master of a Sentinel set-up: then ioredis asks the sentinels where
// the master is on every (re)connect, and drops the connection when they announce a failover.
import Redis, { type RedisOptions } from 'ioredis';
import { describeRedisTarget, type RedisTarget } from '../config';
import { describeError } from '../errors';

export interface RedisConnectionOptions {
  /** A redis:// URL (standalone), or the Redis a config names (config.redisTarget). */
  target: string | RedisTarget;
  /** How long the first connection attempt may take. @default 2000 */
  connectTimeoutMs?: number;
  /** Shown in CLIENT LIST, to tell replicas and roles apart. */
  connectionName?: string;
}

/** What a user who sees RedisUnreachableError at start-up should do. */
export const REDIS_START_HINT =
  'Start Redis (install redis-server and run it, or `docker compose up -d redis`), or point REDIS_URL (or REDIS_SENTINELS) at a running one.';

export class RedisUnreachableError extends Error {
  override readonly name = 'RedisUnreachableError';
}

/** A URL is a standalone target. */
export function redisTargetOf(target: string | RedisTarget): RedisTarget {
  return typeof target === 'string' ? { kind: 'standalone', url: target } : target;
}

/** Capped backoff between reconnects: a restarted Redis (or a promoted replica) is picked up again by itself. */
const reconnectDelayMs = (attempt: number) => Math.min(attempt * 100, 2000);

function baseOptions(options: RedisConnectionOptions): RedisOptions {
  return {
    connectTimeout: options.connectTimeoutMs ?? 2000,
    connectionName: options.connectionName,
    lazyConnect: true,
    retryStrategy: reconnectDelayMs,
  };
}

/**
 * What ioredis needs to reach a master through Sentinel and follow a failover:
 * - `failoverDetector`: each connection subscribes to `+switch-master` on the sentinels and
 *   reconnects at once when they promote a replica, instead of waiting for its socket to die;
 * - `sentinelRetryStrategy`: keep asking the sentinels while none answers (the default gives up);
 * - `reconnectOnError` on READONLY: a connection still on a demoted master (it came back as a
 *   replica) reconnects, asks the sentinels again, and resends the command to the new master.
 * ioredis checks the role of the server it reached (`role: 'master'`) before it uses it.
 */
function sentinelOptions(target: Extract<RedisTarget, { kind: 'sentinel' }>, connectTimeoutMs: number): RedisOptions {
  return {
    sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.name,
    role: 'master',
    failoverDetector: true,
    sentinelRetryStrategy: reconnectDelayMs,
    sentinelCommandTimeout: connectTimeoutMs,
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
  };
}

/** Opens a connection and fails fast with RedisUnreachableError when the first connect fails. */
export async function connectRedis(options: RedisConnectionOptions, extra: RedisOptions = {}): Promise<Redis> {
  const target = redisTargetOf(options.target);
  const base = baseOptions(options);
  // The first attempt fails fast (no retries), then the reconnect strategies take over.
  const firstAttempt: RedisOptions = { ...base, ...extra, retryStrategy: () => null };
  const redis =
    target.kind === 'standalone'
      ? new Redis(target.url, firstAttempt)
      : new Redis({ ...firstAttempt, ...sentinelOptions(target, base.connectTimeout!), sentinelRetryStrategy: () => null });
  // The socket's own error (ECONNREFUSED...) says more than the "Connection is closed." connect() rejects with.
  let socketError: unknown;
  redis.on('error', (error) => (socketError = error));
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    const reason = describeError(socketError ?? error);
    throw new RedisUnreachableError(`Cannot reach Redis at ${describeRedisTarget(target)} (${reason})`);
  }
  // From now on errors are reconnects in progress, which ioredis retries by itself.
  redis.options.retryStrategy = base.retryStrategy;
  if (target.kind === 'sentinel') redis.options.sentinelRetryStrategy = reconnectDelayMs;
  return redis;
}

/**
 * quit() lets pending replies arrive; a connection that is not up is disconnected instead, which
 * also cancels its reconnect timer, so a stopped process never reconnects later. disconnect() after
 * quit() closes what a Sentinel connection holds besides its socket (its failover detector's
 * connections to the sentinels, which quit() leaves open).
 */
export async function closeRedisConnections(connections: readonly Redis[]): Promise<void> {
  await Promise.all(
    connections.map((connection) =>
      connection.status === 'ready' ? connection.quit().then(() => connection.disconnect(), () => connection.disconnect()) : connection.disconnect(),
    ),
  );
}

export interface RedisConnections {
  /** Sessions, rate limits, publishing: commands that wait for a reconnect (briefly). */
  command: Redis;
  /** Subscriptions only (pub/sub for GraphQL subscriptions and L1 invalidations). */
  subscriber: Redis;
  /**
   * The cache (entries, leases, generations, whole responses), on REDIS_CACHE_URL (or
   * REDIS_CACHE_SENTINELS) when set: fails
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
    /** The cache's own instance (REDIS_CACHE_URL or REDIS_CACHE_SENTINELS). @default options.target */
    cacheTarget?: string | RedisTarget | null;
  },
): Promise<RedisConnections> {
  const opened: Redis[] = [];
  const close = () => closeRedisConnections(opened);
  const open = async (role: string, extra: RedisOptions, target = options.target) => {
    try {
      const connection = await connectRedis({ ...options, target, connectionName: `streamgate:${role}` }, extra);
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
  const cacheTarget = options.cacheTarget ?? options.target;
  // Auto-pipelining: the cache batches of concurrent requests share round trips.
  const cache = await open('cache', {
    enableOfflineQueue: false,
    commandTimeout: options.cacheTimeoutMs,
    maxRetriesPerRequest: 0,
    enableAutoPipelining: true,
  }, cacheTarget);
  const isCacheSeparate = describeRedisTarget(redisTargetOf(cacheTarget)) !== describeRedisTarget(redisTargetOf(options.target));
  return { command, subscriber, cache, isCacheSeparate, close };
}
