import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import type { ProductRow } from '../../db/schema';
import type { GatewayContext } from '../context';
import { sizedListComplexity } from '../common/complexity';
import { requireRange } from '../common/input';
import { TopProduct } from './top-products.type';

export const MAX_TOP_PRODUCTS = 100;
const DEFAULT_TOP_PRODUCTS = 10;

@Resolver(() => TopProduct)
export class TopProductsResolver {
  @Query(() => [TopProduct], {
    description: `Best-selling products, most units first (1 to ${MAX_TOP_PRODUCTS}; default ${DEFAULT_TOP_PRODUCTS}).`,
    complexity: sizedListComplexity('limit', DEFAULT_TOP_PRODUCTS, MAX_TOP_PRODUCTS),
  })
  async topProducts(
    @Arg('limit', () => Int, { nullable: true }) limit: number | null | undefined,
    @Ctx() { services, loaders }: GatewayContext,
  ): Promise<Array<{ product: ProductRow; unitsSold: number }>> {
    const sales = await services.topProducts.top(requireRange('limit', limit ?? DEFAULT_TOP_PRODUCTS, 1, MAX_TOP_PRODUCTS));
    const products = await loaders.productById.loadMany(sales.map((sale) => sale.productId));
    // A product id the catalogue no longer has is left out.
    return sales.flatMap((sale, index) => {
      const product = products[index];
      return product && !(product instanceof Error) ? [{ product, unitsSold: sale.unitsSold }] : [];
    });
  }
}
