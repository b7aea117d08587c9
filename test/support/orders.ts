// The write path as clients and consumers see it: the order, catalog and profile mutations as
// GraphQL documents, customer sessions, the domain events a stream holds (XRANGE, envelope parsed),
// and a snapshot of everything a write can touch, to show that a rejected one touched nothing.
import { asc, eq, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type Redis from 'ioredis';
import type { Db } from '../../src/db/client';
import { idempotencyKeys, orderItems, orders, outbox, products, users } from '../../src/db/schema';
import { generatedUserPassword } from '../../src/db/seed';
import type { DomainEvent, EventType, StreamName } from '../../src/events/event-types';
import { STREAMS } from '../../src/events/event-types';
import { createRedisKeys } from '../../src/redis/keys';
import { streamTail } from '../../src/subscriptions/stream-replay';
import type { TestGateway } from './gateway';

export const ORDER_FIELDS = 'id status totalCents createdAt updatedAt';

export const PLACE_ORDER = `mutation ($input: PlaceOrderInput!, $idempotencyKey: String) {
  placeOrder(input: $input, idempotencyKey: $idempotencyKey) { ${ORDER_FIELDS} }
}`;
export const PAY_ORDER = `mutation ($id: ID!) { payOrder(id: $id) { ${ORDER_FIELDS} } }`;
export const SHIP_ORDER = `mutation ($id: ID!) { shipOrder(id: $id) { ${ORDER_FIELDS} } }`;
export const CANCEL_ORDER = `mutation ($id: ID!) { cancelOrder(id: $id) { ${ORDER_FIELDS} } }`;
export const RESTOCK_PRODUCT = 'mutation ($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { id name stock updatedAt } }';
export const UPDATE_PRODUCT =
  'mutation ($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id name description priceCents stock updatedAt } }';
export const UPDATE_PROFILE = 'mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { id name email } }';

export interface OrderData {
  id: string;
  status: string;
  totalCents: number;
  createdAt: string;
  updatedAt: string;
}

export interface LineInput {
  productId: string;
  quantity: number;
}

export type GraphQLResponse<Data> = Awaited<ReturnType<TestGateway['graphql']>> & { body: { data?: Data | null } };

/** The single error's code, message and extensions, or a description of what came back instead. */
export function onlyError(response: GraphQLResponse<unknown>) {
  const errors = response.body.errors ?? [];
  if (errors.length !== 1) throw new Error(`expected exactly one error, got ${JSON.stringify(response.body)}`);
  const [error] = errors as [{ message: string; extensions?: Record<string, unknown> }];
  return { code: error.extensions?.code, message: error.message, extensions: error.extensions ?? {} };
}

/** Sends `query` and returns its data; throws with the whole answer if anything went wrong. */
export async function mutate<Data>(gateway: TestGateway, query: string, variables: Record<string, unknown>, token?: string): Promise<Data> {
  const { status, body } = await gateway.graphql<Data>(query, { variables, token });
  if (status !== 200 || body.errors || !body.data) throw new Error(`operation failed: ${status} ${JSON.stringify(body)}\n${query}`);
  return body.data;
}

export function placeOrder(gateway: TestGateway, token: string | undefined, items: LineInput[], idempotencyKey?: string | null) {
  return gateway.graphql<{ placeOrder: OrderData }>(PLACE_ORDER, { variables: { input: { items }, idempotencyKey }, token });
}

/** One line of `quantity` units of product `productId`. */
export const line = (productId: number | string, quantity = 1): LineInput => ({ productId: String(productId), quantity });

/** Logs in the seeded (non-demo) users with these ids; returns their tokens in the same order. */
export function loginGeneratedUsers(gateway: TestGateway, userIds: number[]): Promise<string[]> {
  return Promise.all(userIds.map((id) => gateway.login(`user${id}@example.com`, generatedUserPassword)));
}

export interface StreamEntry {
  streamId: string;
  fields: Record<string, string>;
  event: DomainEvent;
}

/** Every entry of a domain stream (after `afterId`, exclusive), in stream order, with its envelope parsed. */
export async function readStream(redis: Redis, stream: StreamName, afterId?: string): Promise<StreamEntry[]> {
  const key = createRedisKeys('sg').stream(stream);
  const entries = await redis.xrange(key, afterId ? `(${afterId}` : '-', '+');
  return entries.map(([streamId, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { streamId, fields, event: JSON.parse(fields.event ?? 'null') as DomainEvent };
  });
}

/** The entries of `type` about one aggregate, in stream order. */
export function entriesOf(entries: StreamEntry[], type: EventType, aggregateId: number | string): StreamEntry[] {
  return entries.filter((entry) => entry.event.type === type && entry.event.aggregate.id === String(aggregateId));
}

/** The last entry id of a stream ('0-0' when empty): read only what comes after it. */
export function lastStreamId(redis: Redis, stream: StreamName): Promise<string> {
  return streamTail(redis, createRedisKeys('sg').stream(stream));
}

export async function productStock(db: Db, productId: number): Promise<number> {
  const [row] = await db.select({ stock: products.stock }).from(products).where(eq(products.id, productId));
  if (!row) throw new Error(`product ${productId} does not exist`);
  return row.stock;
}

async function count(db: Db, table: PgTable): Promise<number> {
  const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(table);
  return Number(row!.count);
}

/**
 * Everything a write may change: row counts, every product's stock and version, every order's
 * status and version, each user's version, and the length of each domain stream.
 */
export async function writeSnapshot(db: Db, redis: Redis) {
  const keys = createRedisKeys('sg');
  return {
    counts: {
      orders: await count(db, orders),
      orderItems: await count(db, orderItems),
      outbox: await count(db, outbox),
      idempotencyKeys: await count(db, idempotencyKeys),
    },
    products: await db.select({ id: products.id, stock: products.stock, version: products.version }).from(products).orderBy(asc(products.id)),
    orders: await db.select({ id: orders.id, status: orders.status, version: orders.version }).from(orders).orderBy(asc(orders.id)),
    users: await db.select({ id: users.id, version: users.version, name: users.name, email: users.email }).from(users).orderBy(asc(users.id)),
    streamLengths: Object.fromEntries(await Promise.all(STREAMS.map(async (stream) => [stream, await redis.xlen(keys.stream(stream))] as const))),
  };
}
