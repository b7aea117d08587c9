// Redis connections by role. Commands and subscriptions need separate connections (a subscribed
// connection can run nothing else); later roles (blocking stream reads) get their own too.
import Redis, { type RedisOptions } from 'ioredis';
import { describeError, redactUrl } from '../config';

export interface RedisConnectionOptions {
  url: string;
  /** How long the first connection attempt may take. @default 2000 */
  connectTimeoutMs?: number;
  /** Shown in CLIENT LIST, to tell replicas and roles apart. */
  connectionName?: string;
}

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
