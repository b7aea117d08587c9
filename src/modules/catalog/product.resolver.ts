import { Arg, Args, ArgsType, Authorized, Ctx, Field, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { ProductRow } from '../../db/schema';
import type { GatewayContext } from '../context';
import { parseId } from '../common/ids';
import { pageComplexity } from '../common/complexity';
import { PageArgs, toConnection, toPageRequest } from '../common/pagination';
import { Product, ProductConnection, UpdateProductInput } from './product.type';
import { Cacheable } from '../common/cacheable';

@ArgsType()
class ProductsArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'Case-insensitive match on name or SKU.' })
  search?: string | null;
}

@Resolver(() => Product)
export class ProductResolver {
  @Cacheable({ scope: 'public' })
  @Query(() => Product, { nullable: true })
  product(@Arg('id', () => ID) id: string, @Ctx() { loaders }: GatewayContext): Promise<ProductRow | null> {
    return loaders.productById.load(parseId(id));
  }

  @Cacheable({ scope: 'public', unlessArguments: ['search'] })
  @Query(() => ProductConnection, { description: 'The catalogue, in id order.', complexity: pageComplexity })
  async products(@Args(() => ProductsArgs) { search, ...pageArgs }: ProductsArgs, @Ctx() { services, loaders }: GatewayContext) {
    const page = toPageRequest(pageArgs);
    return toConnection(search ? await services.products.search(page, search) : await loaders.productPages.load(page));
  }

  @Authorized('ADMIN')
  @Mutation(() => Product, { description: 'Changes a product (admins only); readers on every replica see it at once.' })
  updateProduct(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateProductInput) input: UpdateProductInput,
    @Ctx() { services }: GatewayContext,
  ): Promise<ProductRow> {
    return services.products.update(parseId(id), input);
  }

  @Authorized('ADMIN')
  @Mutation(() => Product, { description: 'Adds units to a product\'s stock (admins only).' })
  restockProduct(
    @Arg('id', () => ID) id: string,
    @Arg('quantity', () => Int) quantity: number,
    @Ctx() { services }: GatewayContext,
  ): Promise<ProductRow> {
    return services.products.restock(parseId(id), quantity);
  }
}
