// The cost budget: each viewer (or client address, when anonymous) may spend this many cost points
// per window, counted in Redis by rate-limiter-flexible so every replica draws on the same budget.
// A client can send one expensive operation, but not repeat it without bound.
import type { RedisClient } from '../redis/client';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError, ErrorCode } from '../errors';
import { withTimeout } from './with-timeout';

export interface CostBudgetOptions {
  /** The durable Redis (the command connection): budgets must not be evicted. */
  redis: RedisClient;
  /** Prefix of the budget keys (rate-limiter-flexible appends the subject). */
  keyPrefix: string;
  /** Cost points one subject may spend per window. @default 1_000_000 */
  points?: number;
  /** @default 60 */
  windowSeconds?: number;
  /**
   * Longest wait for Redis before the operation goes ahead anyway: during an outage the command
   * connection queues commands until it reconnects, and a query must not wait for that. @default 250
   */
  timeoutMs?: number;
  /**
   * Redis could not be asked: the operation goes ahead (fail-open, like the cache), and this hears
   * why. @default ignore
   */
  onError?: (error: unknown) => void;
}

export interface CostBudget {
  /** Takes `cost` points from the subject's budget; throws RATE_LIMITED (with retryAfterSeconds) when it is spent. */
  spend(subject: string, cost: number): Promise<void>;
  /**
   * Takes `cost` points for work already done (a replay whose length was known only afterwards),
   * even past the budget, so the subject's next operation is refused. Never throws.
   */
  charge(subject: string, cost: number): Promise<void>;
}

export function rateLimited(retryAfterSeconds: number): AppError {
  return new AppError(ErrorCode.RateLimited, `Query cost budget spent; try again in ${retryAfterSeconds} s.`, {
    extensions: { retryAfterSeconds },
  });
}

export function createCostBudget({ redis, keyPrefix, points = 1_000_000, windowSeconds = 60, timeoutMs = 250, onError = () => undefined }: CostBudgetOptions): CostBudget {
  const limiter = new RateLimiterRedis({ storeClient: redis, keyPrefix, points, duration: windowSeconds });
  return {
    async spend(subject, cost) {
      if (cost <= 0) return;
      try {
        await withTimeout(limiter.consume(subject, cost), timeoutMs, `Redis did not answer within ${timeoutMs} ms`);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) return onError(rejection);
        // consume() counted the points anyway: give them back, so a refused operation spends
        // nothing and a cheaper one that still fits the rest of the budget is admitted.
        await limiter.reward(subject, cost).catch(onError);
        throw rateLimited(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      }
    },
    async charge(subject, cost) {
      if (cost > 0) await limiter.penalty(subject, cost).catch(onError);
    },
  };
}
