// Peer: Mercurius with graphql-jit (`jit: 1`), its loaders (batched per request), and
// mercurius-cache on Redis for the query fields (orders per viewer), as its docs recommend.
import Fastify from 'fastify';
import mercurius from 'mercurius';
import mercuriusCache from 'mercurius-cache';
import { announceReady, openData, openRedis, port, typeDefs, viewerId, type OrderItemRow, type OrderRow } from './common';

declare module 'mercurius' {
  interface MercuriusContext {
    viewerId: number | null;
  }
}

async function main(): Promise<void> {
  const data = await openData();
  const redis = openRedis();
  const app = Fastify();
  await app.register(mercurius, {
    schema: typeDefs,
    jit: 1,
    context: async (request) => ({ viewerId: await viewerId(redis, request.headers.authorization) }),
    resolvers: {
      Query: {
        product: async (_root: unknown, { id }: { id: string }) => (await data.productsByIds([Number(id)]))[0],
        orders: async (_root: unknown, { first }: { first: number }, context: { viewerId: number | null }) => {
          if (context.viewerId === null) throw new Error('log in');
          const orders = await data.ordersOfUser(context.viewerId, first);
          return { edges: orders.map((order) => ({ cursor: String(order.id), node: order })) };
        },
      },
    },
    loaders: {
      Order: {
        items: (queries: Array<{ obj: OrderRow }>) => data.itemsByOrderIds(queries.map(({ obj }) => obj.id)),
        user: (queries: Array<{ obj: OrderRow }>) => data.usersByIds(queries.map(({ obj }) => obj.userId)),
      },
      OrderItem: {
        product: (queries: Array<{ obj: OrderItemRow }>) => data.productsByIds(queries.map(({ obj }) => obj.productId)),
      },
    },
  });
  await app.register(mercuriusCache, {
    ttl: 300,
    storage: { type: 'redis', options: { client: redis, invalidation: false } },
    policy: {
      Query: {
        product: true,
        // Per viewer: the key includes the session's user.
        orders: { extendKey: (_source: unknown, _args: unknown, context: { viewerId: number | null }) => `user:${context.viewerId}` },
      },
    },
  });
  await app.listen({ port: port(), host: '127.0.0.1' });
  announceReady('mercurius');
}

void main();
