// Queries and the mutation: thin, as the gateway's own resolvers are. Reads go through the
// loaders (and so the cache); the write goes through the service (and so the outbox).
import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { parseId } from '../../src/modules/common/ids';
import type { GatewayContext } from '../../src/modules/context';
import { Product } from '../../src/modules/catalog/product.type';
import type { ProductRow } from '../../src/db/schema';
import type { ReviewRow } from './review.table';
import { AddReviewInput, Review } from './review.type';

/** Rows in id order, the absent ones (deleted since the list was cached) left out. */
async function reviewsByIds(context: GatewayContext, ids: readonly number[]): Promise<ReviewRow[]> {
  const rows = await context.loaders.reviewById.loadMany(ids);
  return rows.filter((row): row is ReviewRow => row !== null && !(row instanceof Error));
}

@Resolver(() => Review)
export class ReviewResolver {
  @Query(() => [Review], { description: "A product's reviews, newest first (at most 50)." })
  async reviews(@Arg('productId', () => ID) productId: string, @Ctx() context: GatewayContext): Promise<ReviewRow[]> {
    return reviewsByIds(context, await context.loaders.reviewIdsByProduct.load(parseId(productId)));
  }

  @Authorized()
  @Mutation(() => Review, { description: 'Reviews a product, once per customer (CONFLICT the second time); NOT_FOUND for an unknown product.' })
  addReview(@Arg('input', () => AddReviewInput) input: AddReviewInput, @Ctx() { viewer, services }: GatewayContext): Promise<ReviewRow> {
    return services.reviews.add({ productId: parseId(input.productId), userId: viewer!.id, rating: input.rating, body: input.body });
  }

  @FieldResolver(() => Product, { description: 'The product reviewed.' })
  product(@Root() review: ReviewRow, @Ctx() { loaders }: GatewayContext): Promise<ProductRow | null> {
    return loaders.productById.load(review.productId);
  }
}

/** Adds `Product.reviews` to the gateway's own type, without touching its resolver. */
@Resolver(() => Product)
export class ProductReviewsResolver {
  @FieldResolver(() => [Review], { description: 'Its reviews, newest first (at most 50).' })
  async reviews(@Root() product: ProductRow, @Ctx() context: GatewayContext): Promise<ReviewRow[]> {
    return reviewsByIds(context, await context.loaders.reviewIdsByProduct.load(product.id));
  }
}
