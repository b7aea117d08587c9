// The relational model: Postgres is the source of truth; everything in Redis can be rebuilt from it.
// Mutable rows carry a `version` for optimistic concurrency (the write path bumps it on every change).
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, check, index, integer, jsonb, pgEnum, pgTable, primaryKey, serial, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const userRole = pgEnum('user_role', ['CUSTOMER', 'ADMIN']);
export const orderStatus = pgEnum('order_status', ['PENDING', 'PAID', 'SHIPPED', 'CANCELLED']);

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
};

export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  role: userRole('role').notNull().default('CUSTOMER'),
  passwordHash: text('password_hash').notNull(),
  version: integer('version').notNull().default(1),
  ...timestamps,
});

export const products = pgTable(
  'products',
  {
    id: serial('id').primaryKey(),
    sku: text('sku').notNull().unique(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    priceCents: integer('price_cents').notNull(),
    stock: integer('stock').notNull(),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  (table) => [
    check('products_price_cents_nonnegative', sql`${table.priceCents} >= 0`),
    check('products_stock_nonnegative', sql`${table.stock} >= 0`),
  ],
);

export const orders = pgTable(
  'orders',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    status: orderStatus('status').notNull().default('PENDING'),
    totalCents: integer('total_cents').notNull(),
    version: integer('version').notNull().default(1),
    ...timestamps,
  },
  // Pages are keyset-ordered by id (newest first), per user and per status.
  (table) => [index('orders_user_id_id_idx').on(table.userId, table.id), index('orders_status_id_idx').on(table.status, table.id)],
);

export const orderItems = pgTable(
  'order_items',
  {
    id: serial('id').primaryKey(),
    orderId: integer('order_id')
      .notNull()
      .references(() => orders.id),
    productId: integer('product_id')
      .notNull()
      .references(() => products.id),
    quantity: integer('quantity').notNull(),
    unitPriceCents: integer('unit_price_cents').notNull(),
  },
  (table) => [
    index('order_items_order_id_idx').on(table.orderId),
    check('order_items_quantity_positive', sql`${table.quantity} > 0`),
  ],
);

/**
 * The transactional outbox: each mutation inserts its event here in the same transaction as its
 * rows (after taking the aggregate's row lock), and the relay publishes rows in id order.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    eventId: uuid('event_id').notNull().unique(),
    stream: text('stream').notNull(),
    type: text('type').notNull(),
    aggregateType: text('aggregate_type').notNull(),
    aggregateId: text('aggregate_id').notNull(),
    /** The whole event envelope as consumers receive it. */
    payload: jsonb('payload').notNull(),
    /** Cache entries the event makes stale, deleted by the relay's publish script. */
    invalidations: jsonb('invalidations').notNull().default([]),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }),
    /** The Redis stream entry id the event got. */
    streamId: text('stream_id'),
  },
  (table) => [index('outbox_unpublished_idx').on(table.id).where(sql`${table.publishedAt} is null`)],
);

/**
 * Idempotency keys: stored in the mutation's own transaction, so a retry finds the first result
 * exactly when the first attempt committed. A concurrent duplicate blocks on the primary key until
 * the first commits, then reads its response.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: integer('user_id').notNull(),
    key: text('key').notNull(),
    operation: text('operation').notNull(),
    response: jsonb('response').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.key] })],
);

/** Notifications projected from order events by the worker. */
export const notifications = pgTable(
  'notifications',
  {
    id: serial('id').primaryKey(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    /** The event that caused it: a redelivered event finds it and adds nothing. */
    eventId: uuid('event_id').notNull(),
    kind: text('kind').notNull(),
    orderId: integer('order_id').notNull(),
    message: text('message').notNull(),
    isRead: boolean('is_read').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex('notifications_event_id_idx').on(table.eventId), index('notifications_user_id_id_idx').on(table.userId, table.id)],
);

/** Event ids a consumer group has applied, recorded in the same transaction as the effect. */
export const processedEvents = pgTable(
  'processed_events',
  {
    consumerGroup: text('consumer_group').notNull(),
    eventId: uuid('event_id').notNull(),
    processedAt: timestamp('processed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.consumerGroup, table.eventId] })],
);

/**
 * The database's identity: one row, minted when the database is created and again whenever
 * `seed` replaces its data. Everything Redis holds that derives from the database is bound to it
 * (src/events/database-identity.ts), so state derived from another database is never trusted.
 * `databaseOid` names the PostgreSQL database the identity was minted in: a dump restored into
 * another database (or a dropped and recreated one) carries the row but not the oid.
 */
export const databaseIdentity = pgTable(
  'database_identity',
  {
    singleton: boolean('singleton').primaryKey().default(true),
    id: text('id').notNull(),
    /** The identity this one replaced (seed, a restore): Redis state under it is this database's old state. */
    previousId: text('previous_id'),
    databaseOid: bigint('database_oid', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [check('database_identity_singleton', sql`${table.singleton}`)],
);

export type UserRow = typeof users.$inferSelect;
export type ProductRow = typeof products.$inferSelect;
export type OrderRow = typeof orders.$inferSelect;
export type OrderItemRow = typeof orderItems.$inferSelect;
export type UserRole = UserRow['role'];
export type OutboxRow = typeof outbox.$inferSelect;
export type NotificationRow = typeof notifications.$inferSelect;
export type OrderStatus = OrderRow['status'];
