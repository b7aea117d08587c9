// Peer: plain Apollo Server 5 with per-request DataLoaders and no cache, what most teams run.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import DataLoader from 'dataloader';
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
  const server = new ApolloServer<Context>({
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
  });
  await startStandaloneServer(server, {
    listen: { port: port(), host: '127.0.0.1' },
    context: async ({ req }) => ({ viewerId: await viewerId(redis, req.headers.authorization), loaders: createLoaders(data) }),
  });
  announceReady('apollo');
}

void main();
