// Redis connections by role. Commands and subscriptions need separate connections (a subscribed
// connection can run nothing else); later roles (blocking stream reads) get their own too. A role
// is one server (a URL), the master of a Sentinel set-up (ioredis asks the sentinels where the
// master is on every (re)connect, and drops the connection when they announce a failover), or a
// Redis Cluster (ioredis keeps a connection per node, routes each command by its key's slot and
// follows MOVED/ASK redirections and failovers).
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { describeRedisTarget, type RedisTarget } from '../config';
import { describeError } from '../errors';
import { isCluster, type RedisClient, type RedisSubscriber } from './client';
import { markClosedByApp, reopenWhenConnectorGivesUp } from './reopen-ended';
import { SCRIPT_COMMANDS } from './scripts';
import { ShardedSubscriber } from './sharded-subscriber';

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
  'Start Redis (install redis-server and run it, or `docker run -d -p 127.0.0.1:6379:6379 redis:7-alpine`), or point REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES) at a running one.';

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
 *   reconnects at once when they promote a replica, instead of waiting for its socket to die (an
 *   announcement that cancels a reconnect would end the connection: reopen-ended.ts);
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

/**
 * A Cluster client with a role's options: those of the cluster as a whole (offline queue,
 * auto-pipelining, reconnects) at its level, the rest for every node's connection.
 * - `clusterRetryStrategy` reconnects the cluster after every node was lost. A lost node's own
 *   connection is not retried (ioredis's default): commands queued on it would wait for a master
 *   that may never come back, where the slot map's refresh sends them to the promoted replica;
 * - `retryDelayOnFailover` / `retryDelayOnClusterDown`: a command sent while a master is failing
 *   over (CLUSTERDOWN, or no node for its slot) is retried after a short delay, within
 *   `maxRetriesPerRequest`, instead of failing at once;
 * - `shardedSubscribers`: one subscriber connection per master, for SSUBSCRIBE (the subscriber role);
 * - scripts are not auto-pipelined: ioredis would route them by their number of keys (SCRIPT_COMMANDS).
 */
function clusterClient(target: Extract<RedisTarget, { kind: 'cluster' }>, options: RedisOptions, isFirstAttempt: boolean, isShardedSubscriber: boolean): Cluster {
  const { enableOfflineQueue, enableAutoPipelining, retryStrategy: _nodeRetry, lazyConnect, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    lazyConnect,
    enableOfflineQueue,
    enableAutoPipelining,
    autoPipeliningIgnoredCommands: [...SCRIPT_COMMANDS],
    clusterRetryStrategy: isFirstAttempt ? () => null : reconnectDelayMs,
    retryDelayOnFailover: 200,
    // The slot map is read again every 2 s too, so a failover is noticed without a failed command.
    slotsRefreshInterval: 2000,
    retryDelayOnClusterDown: 200,
    shardedSubscribers: isShardedSubscriber,
    redisOptions: nodeOptions,
  };
  return new Cluster(target.nodes.map(({ host, port }) => ({ host, port })), clusterOptions);
}

/**
 * The start-up check (connect, ioredis' ready check, PING), bounded as a whole by the connect
 * timeout. A role's command timeout (the cache's CACHE_TIMEOUT_MS, 250 ms by default) would bound
 * each of its commands instead, and a Redis busy for a moment (a fork for a save, a loaded machine)
 * would fail the start over one slow reply; the role's timeout applies once the check passed.
 */
async function checkWithin(redis: RedisClient, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([redis.connect().then(() => redis.ping()), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sets the command timeout of a connection that is up (ioredis reads it for every command sent). */
function applyCommandTimeout(redis: RedisClient, commandTimeout: number | undefined): void {
  if (commandTimeout === undefined) return;
  if (redis instanceof Cluster) {
    // The pool builds each node's connection from this very object; the nodes up now have a copy.
    if (redis.options.redisOptions) redis.options.redisOptions.commandTimeout = commandTimeout;
    for (const node of redis.nodes()) node.options.commandTimeout = commandTimeout;
  } else {
    redis.options.commandTimeout = commandTimeout;
  }
}

/** Opens a connection and fails fast with RedisUnreachableError when the first connect fails. */
export async function connectRedis(options: RedisConnectionOptions, extra: RedisOptions = {}, isShardedSubscriber = false): Promise<RedisClient> {
  const target = redisTargetOf(options.target);
  const base = baseOptions(options);
  const { commandTimeout, ...untimed } = extra;
  // The first attempt fails fast (no retries), then the reconnect strategies take over.
  const firstAttempt: RedisOptions = { ...base, ...untimed, retryStrategy: () => null };
  let redis: RedisClient;
  if (target.kind === 'standalone') redis = new Redis(target.url, firstAttempt);
  else if (target.kind === 'sentinel') redis = new Redis({ ...firstAttempt, ...sentinelOptions(target, base.connectTimeout!), sentinelRetryStrategy: () => null });
  else redis = clusterClient(target, { ...base, ...untimed }, true, isShardedSubscriber);
  // The socket's own error (ECONNREFUSED...) says more than the "Connection is closed." connect() rejects with.
  let socketError: unknown;
  redis.on('error', (error) => (socketError = error));
  try {
    await checkWithin(redis, base.connectTimeout!);
  } catch (error) {
    redis.disconnect();
    const reason = describeError(socketError ?? error);
    throw new RedisUnreachableError(`Cannot reach Redis at ${describeRedisTarget(target)} (${reason})`);
  }
  applyCommandTimeout(redis, commandTimeout);
  // From now on errors are reconnects in progress, which ioredis retries by itself.
  if (redis instanceof Cluster) redis.options.clusterRetryStrategy = reconnectDelayMs;
  else redis.options.retryStrategy = base.retryStrategy;
  if (target.kind === 'sentinel' && redis instanceof Redis) {
    redis.options.sentinelRetryStrategy = reconnectDelayMs;
    // A failover announced while a reconnect asks the sentinels ends the connection (reopen-ended.ts).
    reopenWhenConnectorGivesUp(redis, reconnectDelayMs);
  }
  return redis;
}

/**
 * quit() lets pending replies arrive; a connection that is not up is disconnected instead, which
 * also cancels its reconnect timer, so a stopped process never reconnects later. disconnect() after
 * quit() closes what a Sentinel connection holds besides its socket (its failover detector's
 * connections to the sentinels, which quit() leaves open).
 */
export async function closeRedisConnections(connections: readonly RedisClient[]): Promise<void> {
  await Promise.all(
    connections.map((connection) => {
      markClosedByApp(connection);
      return connection.status === 'ready' ? connection.quit().then(() => connection.disconnect(), () => connection.disconnect()) : connection.disconnect();
    }),
  );
}

export interface RedisConnections {
  /** Sessions, rate limits, publishing: commands that wait for a reconnect (briefly). */
  command: RedisClient;
  /**
   * Subscriptions only (pub/sub for GraphQL subscriptions and L1 invalidations); on a Cluster with
   * sharded subscribers, whose SSUBSCRIBEs go to the master of each channel's slot.
   */
  subscriber: RedisSubscriber;
  /**
   * The cache (entries, leases, generations, whole responses), on REDIS_CACHE_URL (or
   * REDIS_CACHE_SENTINELS) when set: fails
   * fast (no offline queue, a command timeout) so reads can fail open to Postgres.
   */
  cache: RedisClient;
  /** True when the cache has an instance of its own. */
  isCacheSeparate: boolean;
  close(): Promise<void>;
}

/**
 * The durable role's memory policy, when it is one that evicts (sessions, streams and markers would
 * be dropped under memory pressure), else null. Null too when CONFIG is not allowed (managed Redis).
 */
export async function evictingMemoryPolicy(redis: RedisClient): Promise<string | null> {
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
  const opened: RedisClient[] = [];
  const close = () => closeRedisConnections(opened);
  const open = async (role: string, extra: RedisOptions, target = options.target, isShardedSubscriber = false) => {
    try {
      const connection = await connectRedis({ ...options, target, connectionName: `streamgate:${role}` }, extra, isShardedSubscriber);
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
  const subscriberConnection = await open('subscriber', {}, options.target, true);
  const subscriber = isCluster(subscriberConnection) ? new ShardedSubscriber(subscriberConnection) : subscriberConnection;
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
