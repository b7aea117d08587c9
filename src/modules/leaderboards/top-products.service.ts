import type { RedisClient } from '../../redis/client';
import { AppError, ErrorCode } from '../../errors';
import type { RedisKeys } from '../../redis/keys';

export interface ProductSales {
  productId: number;
  unitsSold: number;
}

/**
 * Reads the top-products projection: a sorted set the worker keeps (src/projections), so the
 * ranking costs one Redis command however many orders there are.
 */
export function createTopProductsService({ redis, keys }: { redis: RedisClient; keys: RedisKeys }) {
  return {
    /** Best sellers first; products with no units sold are not listed. */
    async top(limit: number): Promise<ProductSales[]> {
      let reply: string[];
      try {
        // Scores above 0 only: a cancellation applied before its order's placement is briefly negative.
        reply = await redis.zrange(keys.topProducts(), '+inf', '(0', 'BYSCORE', 'REV', 'LIMIT', 0, limit, 'WITHSCORES');
      } catch {
        throw new AppError(ErrorCode.ServiceUnavailable, 'Top products are unavailable right now; try again shortly.');
      }
      const sales: ProductSales[] = [];
      for (let i = 0; i + 1 < reply.length; i += 2) sales.push({ productId: Number(reply[i]), unitsSold: Number(reply[i + 1]) });
      return sales;
    },
  };
}

export type TopProductsService = ReturnType<typeof createTopProductsService>;
