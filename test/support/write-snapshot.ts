// Everything a write can touch, read straight from the database and Redis, to show that a rejected
// write touched nothing (compare a snapshot before and after).
import { asc, eq, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { RedisClient } from '../../src/redis/client';
import type { Db } from '../../src/db/client';
import { idempotencyKeys, orderItems, orders, outbox, products, users } from '../../src/db/schema';
import { STREAMS } from '../../src/events/event-types';
import type { RedisKeys } from '../../src/redis/keys';

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
 * Row counts, every product's stock and version, every order's status and version, each user's
 * version, and the length of each domain stream (named by `keys`).
 */
export async function writeSnapshot(db: Db, redis: RedisClient, keys: RedisKeys) {
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
