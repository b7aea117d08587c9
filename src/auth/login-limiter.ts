// Brute-force protection for login: failed attempts are counted per (email, client address) in
// Redis, so every replica shares the count; a success clears it. Keying on the pair (not the email
// alone) keeps an attacker from locking a real user out from elsewhere.
import type Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError, ErrorCode } from '../errors';

export interface LoginLimiterOptions {
  redis: Redis;
  keyPrefix: string;
  /** Failed attempts allowed per window. @default 10 */
  maxFailures?: number;
  /** @default 900 (15 minutes) */
  windowSeconds?: number;
}

export interface LoginLimiter {
  /** Throws RATE_LIMITED while the pair has used up its failures. */
  assertAllowed(email: string, clientAddress: string): Promise<void>;
  recordFailure(email: string, clientAddress: string): Promise<void>;
  recordSuccess(email: string, clientAddress: string): Promise<void>;
}

export function createLoginLimiter({ redis, keyPrefix, maxFailures = 10, windowSeconds = 900 }: LoginLimiterOptions): LoginLimiter {
  const limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix, points: maxFailures, duration: windowSeconds });
  const keyOf = (email: string, clientAddress: string) => `${email}|${clientAddress}`;
  const tooMany = (state: RateLimiterRes) =>
    new AppError(ErrorCode.RateLimited, 'Too many failed logins; try again later.', {
      extensions: { retryAfterSeconds: Math.ceil(state.msBeforeNext / 1000) },
    });

  return {
    async assertAllowed(email, clientAddress) {
      const state = await limiter.get(keyOf(email, clientAddress));
      if (state && state.consumedPoints >= maxFailures) throw tooMany(state);
    },
    async recordFailure(email, clientAddress) {
      await limiter.consume(keyOf(email, clientAddress)).catch((rejection: unknown) => {
        if (rejection instanceof RateLimiterRes) return; // the limit is reported on the next attempt
        throw rejection;
      });
    },
    async recordSuccess(email, clientAddress) {
      await limiter.delete(keyOf(email, clientAddress));
    },
  };
}
