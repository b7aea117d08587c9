// ioredis ends a connection for good (status 'end': it never reconnects, and every later command
// fails at once with "Connection is closed.") when its connector rejects a connect attempt. Through
// Sentinel that happens after a failover: the failover detector of the connection's previous socket
// is still subscribed to `+switch-master` on the sentinels, and when the announcement arrives while a
// reconnect is asking them where the master is, it cancels that attempt (SentinelConnector rejects
// with "Connection is closed." when it was disconnected while resolving). Left alone, some replicas
// of a fleet fail every Redis command after a failover until they are restarted (ioredis#1683).
import type Redis from 'ioredis';
import type { RedisClient } from './client';

/** Connections the app itself closed (closeRedisConnections, disconnectRedis): never reopened. */
const closedByApp = new WeakSet<RedisClient>();

/** Marks a connection as closed by the app, so an 'end' it reaches stays the end. */
export function markClosedByApp(connection: RedisClient): void {
  closedByApp.add(connection);
}

/** Closes a connection at once (pending replies lost), for good. */
export function disconnectRedis(connection: RedisClient): void {
  markClosedByApp(connection);
  connection.disconnect();
}

type Status = 'connecting' | 'connect' | 'ready' | 'close' | 'reconnecting';
const STATUSES: readonly Status[] = ['connecting', 'connect', 'ready', 'close', 'reconnecting'];

/**
 * Connects `redis` again, after `delayMs(attempt)` (attempt 0 first), whenever it ends from
 * 'connecting' (a connector that gave up, never a socket that closed: those go through 'close' and
 * ioredis' own retry strategy) and the app has not closed it. ioredis keeps what the connection had
 * subscribed to since it was last ready and subscribes again once it is.
 */
export function reopenWhenConnectorGivesUp(redis: Redis, delayMs: (attempt: number) => number): void {
  let lastStatus: Status | 'end' = 'ready';
  let attempt = 0;
  for (const status of STATUSES) {
    redis.on(status, () => {
      lastStatus = status;
      if (status === 'ready') attempt = 0;
    });
  }
  redis.on('end', () => {
    const gaveUpConnecting = lastStatus === 'connecting';
    lastStatus = 'end';
    if (!gaveUpConnecting || closedByApp.has(redis)) return;
    // Unreferenced: a process that has nothing else to do may still exit.
    setTimeout(() => {
      if (redis.status === 'end' && !closedByApp.has(redis)) redis.connect().catch(() => undefined);
    }, delayMs(attempt++)).unref();
  });
}
