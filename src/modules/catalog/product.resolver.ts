import { Arg, Args, ArgsType, Ctx, Field, ID, Query, Resolver } from 'type-graphql';
import type { ProductRow } from '../../db/schema';
import type { GatewayContext } from '../context';
import { parseId } from '../common/ids';
import { PageArgs, toConnection, toPageRequest } from '../common/pagination';
import { Product, ProductConnection } from './product.type';

@ArgsType()
class ProductsArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'Case-insensitive match on name or SKU.' })
  search?: string | null;
}

@Resolver(() => Product)
export class ProductResolver {
  @Query(() => Product, { nullable: true })
  product(@Arg('id', () => ID) id: string, @Ctx() { loaders }: GatewayContext): Promise<ProductRow | null> {
    return loaders.productById.load(parseId(id));
  }

  @Query(() => ProductConnection, { description: 'The catalogue, in id order.' })
  async products(@Args(() => ProductsArgs) { search, ...pageArgs }: ProductsArgs, @Ctx() { services, loaders }: GatewayContext) {
    const page = await services.products.list(toPageRequest(pageArgs), search);
    for (const row of page.rows) loaders.productById.prime(row.id, row);
    return toConnection(page);
  }
}
