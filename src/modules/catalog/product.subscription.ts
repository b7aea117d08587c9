// productChanged: stock and price changes of one product, for anyone (the catalogue is public).
import { Arg, Ctx, Field, ID, ObjectType, Resolver, Root, Subscription } from 'type-graphql';
import type { ProductRow } from '../../db/schema';
import { AppError, ErrorCode } from '../../errors';
import type { StreamEvent } from '../../subscriptions/stream-replay';
import type { GatewayContext } from '../context';
import { parseId } from '../common/ids';
import { AFTER_DESCRIPTION, eventFields, openFeed, renewLoaders, StreamEventFields } from '../common/stream-event';
import { Product } from './product.type';

@ObjectType({ description: 'A change to a product (an update or a restock).' })
export class ProductEvent extends StreamEventFields {
  @Field(() => Product, { description: 'The product as it is now.' })
  product!: ProductRow;
}

const productIdOf = ({ event }: StreamEvent): number | null =>
  event.aggregate.type === 'Product' ? (event.data as { productId: number }).productId : null;

@Resolver()
export class ProductSubscriptionResolver {
  @Subscription(() => ProductEvent, {
    description: "Changes to one product's stock, price or details. NOT_FOUND for an unknown product.",
    subscribe: async ({ args, context }: { args: { id: string; after?: string | null }; context: GatewayContext }) => {
      const productId = parseId(args.id);
      if (!(await context.loaders.productById.load(productId))) {
        throw new AppError(ErrorCode.NotFound, `Product ${productId} was not found.`);
      }
      return openFeed(context, args.after, {
        channel: { topic: 'product', id: productId },
        stream: 'catalog',
        matches: (event) => productIdOf(event) === productId,
      });
    },
  })
  async productChanged(
    @Root() event: StreamEvent,
    @Arg('id', () => ID) _id: string,
    @Arg('after', () => String, { nullable: true, description: AFTER_DESCRIPTION }) _after: string | null,
    @Ctx() context: GatewayContext,
  ): Promise<ProductEvent> {
    renewLoaders(context, event);
    const productId = productIdOf(event)!;
    const product = await context.loaders.productById.load(productId);
    if (!product) throw new Error(`Product event ${event.event.id} refers to missing product ${productId}`);
    return { ...eventFields(event), product };
  }
}
