// What every peer server shares, so they all do the same work as the gateway: the schema subset
// the benchmark queries, the batch reads (one SQL statement per batch) from the same database,
// placeOrder as the gateway's transaction (without its outbox),
// the viewer from the same Redis session keys, and counters of SQL statements and Redis commands
// served on a stats port (PORT + 1) for the harness to read.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { PGlite } from '@electric-sql/pglite';
import DataLoader from 'dataloader';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { createRedisKeys } from '../../src/redis/keys';

export const typeDefs = /* GraphQL */ `
  type Query {
    product(id: ID!): Product
    orders(first: Int = 20): OrderConnection!
  }
  type Mutation {
    placeOrder(input: PlaceOrderInput!): Order!
  }
  input PlaceOrderInput {
    items: [OrderLineInput!]!
  }
  input OrderLineInput {
    productId: ID!
    quantity: Int!
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

/** placeOrder's argument, as the gateway's schema has it. */
export interface PlaceOrderInput {
  items: Array<{ productId: string; quantity: number }>;
}

export const counters = { sql: 0, redis: 0 };

type Query = <Row>(text: string, params: unknown[]) => Promise<Row[]>;
/** Runs `work` in one transaction (BEGIN … COMMIT, ROLLBACK if it throws); its statements count as SQL. */
type Transaction = <Result>(work: (query: Query) => Promise<Result>) => Promise<Result>;

async function openDatabase(): Promise<{ query: Query; transaction: Transaction }> {
  if (process.env.DATABASE_URL) {
    const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
    return {
      query: async <Row>(text: string, params: unknown[]) => {
        counters.sql += 1;
        return (await pool.query(text, params)).rows as Row[];
      },
      transaction: async (work) => {
        const client = await pool.connect();
        const query: Query = async <Row>(text: string, params: unknown[]) => {
          counters.sql += 1;
          return (await client.query(text, params)).rows as Row[];
        };
        try {
          await query('begin', []);
          const result = await work(query);
          await query('commit', []);
          return result;
        } catch (error) {
          await query('rollback', []);
          throw error;
        } finally {
          client.release();
        }
      },
    };
  }
  const pglite = await PGlite.create(process.env.PGLITE_DIR!);
  return {
    query: async <Row>(text: string, params: unknown[]) => {
      counters.sql += 1;
      return (await pglite.query<Row>(text, params)).rows;
    },
    transaction: (work) =>
      pglite.transaction((tx) =>
        work(async <Row>(text: string, params: unknown[]) => {
          counters.sql += 1;
          return (await tx.query<Row>(text, params)).rows;
        }),
      ),
  };
}

/** Rows in the order of `ids` (null where absent): DataLoader's contract. */
function inOrder<Row, Key>(ids: readonly Key[], rows: Row[], keyOf: (row: Row) => Key): Array<Row | null> {
  const byKey = new Map(rows.map((row) => [keyOf(row), row]));
  return ids.map((id) => byKey.get(id) ?? null);
}

export async function openData() {
  const { query, transaction } = await openDatabase();
  // The gateway's session keys carry the database's identity (src/redis/keys.ts), which the bench
  // never changes while a peer runs: read once.
  const [identity] = await query<{ id: string }>('select id from database_identity', []);
  const keys = createRedisKeys(process.env.REDIS_PREFIX ?? 'sg', () => identity!.id);
  return {
    sessionKey: (tokenHash: string) => keys.session(tokenHash),
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
    /**
     * The gateway's placeOrder (src/modules/orders/order.service.ts `place`) without its outbox:
     * one transaction, a conditional stock decrement per line in product id order (so concurrent
     * orders cannot deadlock), the order, its items.
     */
    placeOrder(userId: number, input: PlaceOrderInput): Promise<OrderRow> {
      const quantities = new Map<number, number>();
      for (const line of input.items) quantities.set(Number(line.productId), (quantities.get(Number(line.productId)) ?? 0) + line.quantity);
      const lines = [...quantities].sort(([a], [b]) => a - b);
      if (lines.length === 0) throw new Error('An order needs at least one item.');
      return transaction(async (query) => {
        const prices: number[] = [];
        for (const [productId, quantity] of lines) {
          const [product] = await query<{ priceCents: number }>(
            'update products set stock = stock - $2, version = version + 1, updated_at = now() where id = $1 and stock >= $2 returning price_cents as "priceCents"',
            [productId, quantity],
          );
          if (!product) throw new Error(`Not enough of product ${productId} in stock.`);
          prices.push(product.priceCents);
        }
        const totalCents = lines.reduce((sum, [, quantity], index) => sum + quantity * prices[index]!, 0);
        const [order] = await query<OrderRow>(
          `insert into orders (user_id, status, total_cents) values ($1, 'PENDING', $2) returning id, user_id as "userId", status, total_cents as "totalCents"`,
          [userId, totalCents],
        );
        await query(
          'insert into order_items (order_id, product_id, quantity, unit_price_cents) select $1, * from unnest($2::int[], $3::int[], $4::int[])',
          [order!.id, lines.map(([productId]) => productId), lines.map(([, quantity]) => quantity), prices],
        );
        return order!;
      });
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
export async function viewerId(redis: Redis, data: Data, authorization: string | undefined): Promise<number | null> {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : null;
  if (!token) return null;
  const session = await redis.get(data.sessionKey(createHash('sha256').update(token).digest('base64url')));
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
    Mutation: {
      placeOrder: (_root: unknown, { input }: { input: PlaceOrderInput }, context: DataLoaderContext) => {
        if (context.viewerId === null) throw new Error('log in');
        return data.placeOrder(context.viewerId, input);
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

/**
 * Whether the peers' caches invalidate on placeOrder (the default). `BENCH_PEER_INVALIDATION=off`
 * leaves them on their TTL alone, to check that the mixed rows' staleness checker notices.
 */
export const invalidatesOnWrite = (): boolean => process.env.BENCH_PEER_INVALIDATION !== 'off';

/** Serves the counters on PORT + 1, and says "peer ready" once the peer listens. */
export function announceReady(name: string): void {
  createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(counters));
  }).listen(port() + 1, '127.0.0.1', () => console.log(`peer ready: ${name} on ${port()}`));
}
