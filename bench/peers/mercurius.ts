// Peer: Mercurius with graphql-jit (`jit: 1`), its loaders (batched per request), and
// mercurius-cache on Redis for the query fields (orders per viewer), as its docs recommend:
// with invalidation by references, which placeOrder invalidates (its products, the viewer's orders).
import Fastify from 'fastify';
import mercurius from 'mercurius';
import mercuriusCache from 'mercurius-cache';
import { announceReady, invalidatesOnWrite, openData, openRedis, port, typeDefs, viewerId, type OrderItemRow, type OrderRow, type PlaceOrderInput, type ProductRow } from './common';

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
    context: async (request) => ({ viewerId: await viewerId(redis, data, request.headers.authorization) }),
    resolvers: {
      Query: {
        product: async (_root: unknown, { id }: { id: string }) => (await data.productsByIds([Number(id)]))[0],
        orders: async (_root: unknown, { first }: { first: number }, context: { viewerId: number | null }) => {
          if (context.viewerId === null) throw new Error('log in');
          const orders = await data.ordersOfUser(context.viewerId, first);
          return { edges: orders.map((order) => ({ cursor: String(order.id), node: order })) };
        },
      },
      Mutation: {
        placeOrder: (_root: unknown, { input }: { input: PlaceOrderInput }, context: { viewerId: number | null }) => {
          if (context.viewerId === null) throw new Error('log in');
          return data.placeOrder(context.viewerId, input);
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
  type Context = { viewerId: number | null };
  const invalidation = invalidatesOnWrite();
  // Invalidation by references (mercurius-cache's README): each cached field names what it
  // shows, and placeOrder invalidates the products it took stock from and the viewer's orders.
  const productReferences = (_args: unknown, _key: string, result: ProductRow | null) => (result ? [`product:${result.id}`] : null);
  const ordersReferences = ({ ctx }: { ctx: Context }) => [`orders:user:${ctx.viewerId}`];
  const placeOrderInvalidates = (_self: unknown, { input }: { input: PlaceOrderInput }, context: Context) => [
    `orders:user:${context.viewerId}`,
    ...input.items.map((line) => `product:${Number(line.productId)}`),
  ];
  await app.register(mercuriusCache, {
    ttl: 300,
    storage: { type: 'redis', options: { client: redis, invalidation } },
    policy: {
      Query: {
        product: invalidation ? { references: productReferences } : true,
        // Per viewer: the key includes the session's user.
        orders: {
          extendKey: (_source: unknown, _args: unknown, context: Context) => `user:${context.viewerId}`,
          ...(invalidation && { references: ordersReferences }),
        },
      },
      ...(invalidation && { Mutation: { placeOrder: { invalidate: placeOrderInvalidates } } }),
    },
  });
  await app.listen({ port: port(), host: '127.0.0.1' });
  announceReady('mercurius');
}

void main();
