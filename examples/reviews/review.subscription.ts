// myReviewAdded: the viewer's reviews as they are published (another tab, another device),
// resumable with `after` like every subscription of the gateway: openFeed gives the module the
// same replay, ordering and slow-consumer rules as the built-in ones.
import { Arg, Ctx, Resolver, Root, Subscription } from 'type-graphql';
import type { GatewayContext } from '../../src/modules/context';
import { AFTER_DESCRIPTION, openFeed, renewLoaders, requireViewer } from '../../src/modules/common/stream-event';
import type { StreamEvent } from '../../src/subscriptions/stream-replay';
import { REVIEWS_STREAM, USER_REVIEWS_TOPIC, reviewAddedData } from './review.events';
import { ReviewEvent } from './review.type';

@Resolver()
export class ReviewSubscriptionResolver {
  @Subscription(() => ReviewEvent, {
    description: 'Your reviews as they are published. UNAUTHENTICATED without a session.',
    subscribe: ({ args, context }: { args: { after?: string | null }; context: GatewayContext }) => {
      const viewer = requireViewer(context);
      return openFeed(context, args.after, {
        channel: { topic: USER_REVIEWS_TOPIC, id: viewer.id },
        stream: REVIEWS_STREAM,
        matches: (event) => reviewAddedData(event)?.userId === viewer.id,
      });
    },
  })
  async myReviewAdded(
    @Root() event: StreamEvent,
    @Arg('after', () => String, { nullable: true, description: AFTER_DESCRIPTION }) _after: string | null,
    @Ctx() context: GatewayContext,
  ): Promise<ReviewEvent> {
    renewLoaders(context, event);
    const { reviewId } = reviewAddedData(event)!;
    const review = await context.loaders.reviewById.load(reviewId);
    if (!review) throw new Error(`Review event ${event.event.id} refers to missing review ${reviewId}`);
    return { cursor: event.cursor, occurredAt: new Date(event.event.occurredAt), review };
  }
}
