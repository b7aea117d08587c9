// The reviews module as the gateway registers it: `createApp({ config, modules: [reviewsModule] })`
// in src/main.ts, `createTestGateway({ modules: [reviewsModule] })` in its tests. Everything the
// module brings is named here; nothing in src/ knows about it.
import path from 'node:path';
import type { GatewayModule } from '../../src/modules/context';
import { reviewEvents } from './review.events';
import { createReviewLoaders, productReviewsCacheType, reviewCacheType, type ReviewLoaders } from './review.loader';
import { ProductReviewsResolver, ReviewResolver } from './review.resolver';
import { createReviewService, type ReviewService } from './review.service';
import { ReviewSubscriptionResolver } from './review.subscription';

export const reviewsModule: GatewayModule = {
  name: 'reviews',
  resolvers: [ReviewResolver, ProductReviewsResolver, ReviewSubscriptionResolver],
  cacheTypes: [reviewCacheType, productReviewsCacheType],
  createLoaders: createReviewLoaders,
  createServices: (deps) => ({ reviews: createReviewService(deps) }),
  migrationsFolder: path.join(__dirname, 'migrations'),
  events: reviewEvents,
};

// What the module adds to every resolver's context, typed (as Fastify types its decorators).
declare module '../../src/modules/context' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ModuleLoaders extends ReviewLoaders {}
  interface ModuleServices {
    reviews: ReviewService;
  }
}
