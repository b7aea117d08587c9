// What every peer server shares, so they all do the same work as the gateway: the schema subset
// the benchmark queries, the batch reads (one SQL statement per batch) from the same database,
// the viewer from the same Redis session keys, and counters of SQL statements and Redis commands
// served on a stats port (PORT + 1) for the harness to read.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { PGlite } from '@electric-sql/pglite';
import DataLoader from 'dataloader';
import Redis from 'ioredis';
import { Pool } from 'pg';

export const typeDefs = /* GraphQL */ `
  type Query {
    product(id: ID!): Product
    orders(first: Int = 20): OrderConnection!
  }
  type Product {
    id: ID!
    name: String!
    priceCents: Int!
    stock: Int!
  }
  type User {
    id: ID!
    name: String!
  }
  type Order {
    id: ID!
    status: String!
    totalCents: Int!
    items: [OrderItem!]!
    user: User!
  }
  type OrderItem {
    quantity: Int!
    unitPriceCents: Int!
    product: Product!
  }
  type OrderEdge {
    cursor: String!
    node: Order!
  }
  type OrderConnection {
    edges: [OrderEdge!]!
  }
`;

export interface ProductRow {
  id: number;
  name: string;
  priceCents: number;
  stock: number;
}
export interface OrderRow {
  id: number;
  userId: number;
  status: string;
  totalCents: number;
}
export interface OrderItemRow {
  orderId: number;
  productId: number;
  quantity: number;
  unitPriceCents: number;
}
export interface UserRow {
  id: number;
  name: string;
}

export const counters = { sql: 0, redis: 0 };

type Query = <Row>(text: string, params: unknown[]) => Promise<Row[]>;

async function openQuery(): Promise<Query> {
  if (process.env.DATABASE_URL) {
    const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
    return async <Row>(text: string, params: unknown[]) => {
      counters.sql += 1;
      return (await pool.query(text, params)).rows as Row[];
    };
  }
  const pglite = await PGlite.create(process.env.PGLITE_DIR!);
  return async <Row>(text: string, params: unknown[]) => {
    counters.sql += 1;
    return (await pglite.query<Row>(text, params)).rows;
  };
}

/** Rows in the order of `ids` (null where absent): DataLoader's contract. */
function inOrder<Row, Key>(ids: readonly Key[], rows: Row[], keyOf: (row: Row) => Key): Array<Row | null> {
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  return ids.map((id) => byKey.get(id) ?? null);
}

export async function openData() {
  const query = await openQuery();
  return {
    async productsByIds(ids: readonly number[]): Promise<Array<ProductRow | null>> {
      const rows = await query<ProductRow>('select id, name, price_cents as "priceCents", stock from products where id = any($1)', [ids]);
      return inOrder(ids, rows, (row) => row.id);
    },
    async usersByIds(ids: readonly number[]): Promise<Array<UserRow | null>> {
      const rows = await query<UserRow>('select id, name from users where id = any($1)', [ids]);
      return inOrder(ids, rows, (row) => row.id);
    },
    async itemsByOrderIds(ids: readonly number[]): Promise<OrderItemRow[][]> {
      const rows = await query<OrderItemRow>(
        'select order_id as "orderId", product_id as "productId", quantity, unit_price_cents as "unitPriceCents" from order_items where order_id = any($1) order by order_id, product_id',
        [ids],
      );
      const byOrder = new Map<number, OrderItemRow[]>();
      for (const row of rows) byOrder.set(row.orderId, [...(byOrder.get(row.orderId) ?? []), row]);
      return ids.map((id) => byOrder.get(id) ?? []);
    },
    /** The viewer's newest orders (the gateway's `orders(first)` for a customer). */
    ordersOfUser(userId: number, first: number): Promise<OrderRow[]> {
      return query<OrderRow>(
        'select id, user_id as "userId", status, total_cents as "totalCents" from orders where user_id = $1 order by id desc limit $2',
        [userId, first],
      );
    },
  };
}

export type Data = Awaited<ReturnType<typeof openData>>;

export function openRedis(): Redis {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const sendCommand = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    counters.redis += 1;
    return sendCommand(...args);
  };
  return redis;
}

/** The user id of a `Bearer <token>` session the gateway created (same Redis keys), or null. */
export async function viewerId(redis: Redis, authorization: string | undefined): Promise<number | null> {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : null;
  if (!token) return null;
  const session = await redis.get(`sg:session:${createHash('sha256').update(token).digest('base64url')}`);
  return session ? (JSON.parse(session) as { userId: number }).userId : null;
}

/** Per-request DataLoaders, for the peers that use DataLoader (Yoga, Apollo). */
export function createLoaders(data: Data) {
  return {
    product: new DataLoader((ids: readonly number[]) => data.productsByIds(ids)),
    user: new DataLoader((ids: readonly number[]) => data.usersByIds(ids)),
    items: new DataLoader((ids: readonly number[]) => data.itemsByOrderIds(ids)),
  };
}

export interface DataLoaderContext {
  viewerId: number | null;
  loaders: ReturnType<typeof createLoaders>;
}

/** The resolvers of the schema subset over per-request DataLoaders. */
export function dataLoaderResolvers(data: Data) {
  return {
    Query: {
      product: (_root: unknown, { id }: { id: string }, context: DataLoaderContext) => context.loaders.product.load(Number(id)),
      orders: async (_root: unknown, { first }: { first: number }, context: DataLoaderContext) => {
        if (context.viewerId === null) throw new Error('log in');
        const orders = await data.ordersOfUser(context.viewerId, first);
        return { edges: orders.map((order) => ({ cursor: String(order.id), node: order })) };
      },
    },
    Order: {
      items: (order: OrderRow, _args: unknown, context: DataLoaderContext) => context.loaders.items.load(order.id),
      user: (order: OrderRow, _args: unknown, context: DataLoaderContext) => context.loaders.user.load(order.userId),
    },
    OrderItem: {
      product: (item: OrderItemRow, _args: unknown, context: DataLoaderContext) => context.loaders.product.load(item.productId),
    },
  };
}

export const port = (): number => Number(process.env.PORT ?? 4100);

/** Serves the counters on PORT + 1, and says "peer ready" once the peer listens. */
export function announceReady(name: string): void {
  createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(counters));
  }).listen(port() + 1, '127.0.0.1', () => console.log(`peer ready: ${name} on ${port()}`));
}
