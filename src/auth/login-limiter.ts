// Brute-force protection for login, in Redis so every replica shares the counts. Two limits:
//
// - per (email, client address): the failures one client may make at one account. A success
//   clears it. Keying on the pair keeps an attacker from locking a real user out from elsewhere.
// - per account, for addresses that are not "known" (have not logged in to that account lately):
//   bounds the guesses at one account from many addresses (a botnet, an IPv6 /64). When used up,
//   unknown addresses wait until the window ends; known addresses are exempt, so an attacker can
//   make a real user wait only on an address the user has never logged in from. See README
//   "Login limits" for the trade-off.
//
// A point is consumed before the password is checked (rate-limiter-flexible's consume is one
// atomic Lua script), so concurrent attempts cannot all pass a count read before any of them failed.
import type { RedisClient } from '../redis/client';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError, ErrorCode } from '../errors';
import type { RedisKeys } from '../redis/keys';

export interface LoginLimiterOptions {
  redis: RedisClient;
  /** Where the counters and the known addresses live (redis/keys.ts). */
  keys: Pick<RedisKeys, 'loginFailures' | 'loginAccountFailures' | 'knownLoginAddress'>;
  /** Failed attempts allowed per (email, address) per window. @default 10 */
  maxFailures?: number;
  /** @default 900 (15 minutes) */
  windowSeconds?: number;
  /** Failed attempts allowed per account, from all unknown addresses together, per account window. @default 20 */
  maxAccountFailures?: number;
  /** Longest an unknown address waits once the account limit is used up. @default 300 (5 minutes) */
  accountWindowSeconds?: number;
  /** How long an address stays known after a successful login to an account (each success renews it). @default 2592000 (30 days) */
  knownAddressTtlSeconds?: number;
}

/** One login attempt that passed the limits; its points stay consumed unless it succeeds. */
export interface LoginAttempt {
  /** The password was right: clears this client's failures, returns the account point, remembers the address. */
  succeeded(): Promise<void>;
}

export interface LoginLimiter {
  /** Consumes the attempt's points before the password is checked; throws RATE_LIMITED when a limit is used up. */
  startAttempt(email: string, clientAddress: string): Promise<LoginAttempt>;
}

export function createLoginLimiter(options: LoginLimiterOptions): LoginLimiter {
  const {
    redis,
    keys,
    maxFailures = 10,
    windowSeconds = 900,
    maxAccountFailures = 20,
    accountWindowSeconds = 300,
    knownAddressTtlSeconds = 30 * 24 * 3600,
  } = options;
  const perClient = new RateLimiterRedis({ storeClient: redis, keyPrefix: keys.loginFailures(), points: maxFailures, duration: windowSeconds });
  const perAccount = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: keys.loginAccountFailures(),
    points: maxAccountFailures,
    duration: accountWindowSeconds,
  });
  const pairOf = (email: string, clientAddress: string) => `${email}|${clientAddress}`;

  /** Consumes one point; a used-up limit becomes RATE_LIMITED (any other rejection is a Redis error). */
  async function consumeOrThrow(limiter: RateLimiterRedis, key: string): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      throw new AppError(ErrorCode.RateLimited, 'Too many failed logins; try again later.', {
        extensions: { retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) },
      });
    }
  }

  return {
    async startAttempt(email, clientAddress) {
      const pair = pairOf(email, clientAddress);
      await consumeOrThrow(perClient, pair);
      const isKnownAddress = (await redis.exists(keys.knownLoginAddress(email, clientAddress))) === 1;
      if (!isKnownAddress) {
        try {
          await consumeOrThrow(perAccount, email);
        } catch (error) {
          // Nothing was checked: the client's own budget is not charged for waiting on the account.
          await perClient.reward(pair);
          throw error;
        }
      }
      return {
        async succeeded() {
          await Promise.all([
            perClient.delete(pair),
            // Only this attempt's point: deleting would hand an attacker a fresh budget whenever the user logs in.
            isKnownAddress ? undefined : perAccount.reward(email),
            redis.set(keys.knownLoginAddress(email, clientAddress), '1', 'EX', knownAddressTtlSeconds),
          ]);
        },
      };
    },
  };
}
