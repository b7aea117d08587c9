// Peer: GraphQL Yoga with per-request DataLoaders and its response cache on Redis
// (@graphql-yoga/plugin-response-cache + @envelop/response-cache-redis), sessions per viewer.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { createRedisCache } from '@envelop/response-cache-redis';
import { useResponseCache } from '@graphql-yoga/plugin-response-cache';
import DataLoader from 'dataloader';
import { createSchema, createYoga } from 'graphql-yoga';
import { announceReady, openData, openRedis, port, typeDefs, viewerId, type Data, type OrderItemRow, type OrderRow } from './common';

interface Context {
  viewerId: number | null;
  loaders: ReturnType<typeof createLoaders>;
}

function createLoaders(data: Data) {
  return {
    product: new DataLoader((ids: readonly number[]) => data.productsByIds(ids)),
    user: new DataLoader((ids: readonly number[]) => data.usersByIds(ids)),
    items: new DataLoader((ids: readonly number[]) => data.itemsByOrderIds(ids)),
  };
}

async function main(): Promise<void> {
  const data = await openData();
  const redis = openRedis();
  const yoga = createYoga<object, Context>({
    schema: createSchema<Context>({
      typeDefs,
      resolvers: {
        Query: {
          product: (_root: unknown, { id }: { id: string }, context: Context) => context.loaders.product.load(Number(id)),
          orders: async (_root: unknown, { first }: { first: number }, context: Context) => {
            if (context.viewerId === null) throw new Error('log in');
            const orders = await data.ordersOfUser(context.viewerId, first);
            return { edges: orders.map((order) => ({ cursor: String(order.id), node: order })) };
          },
        },
        Order: {
          items: (order: OrderRow, _args: unknown, context: Context) => context.loaders.items.load(order.id),
          user: (order: OrderRow, _args: unknown, context: Context) => context.loaders.user.load(order.userId),
        },
        OrderItem: {
          product: (item: OrderItemRow, _args: unknown, context: Context) => context.loaders.product.load(item.productId),
        },
      },
    }),
    context: async ({ request }) => ({
      viewerId: await viewerId(redis, request.headers.get('authorization') ?? undefined),
      loaders: createLoaders(data),
    }),
    plugins: [
      useResponseCache({
        cache: createRedisCache({ redis }),
        ttl: 300_000,
        session: (request) => request.headers.get('authorization'),
        // Orders are the viewer's own: one cached response per session. A product is public:
        // one cached response for everyone.
        buildResponseCacheKey: ({ documentString, variableValues, sessionId }) =>
          createHash('sha256')
            .update(JSON.stringify([documentString, variableValues, documentString.includes('orders') ? sessionId : null]))
            .digest('hex'),
      }),
    ],
    logging: false,
    maskedErrors: true,
  });
  createServer(yoga).listen(port(), '127.0.0.1', () => announceReady('yoga'));
}

void main();
