// The module's table, in drizzle's schema language: the source `drizzle-kit generate` writes the
// migration from (see docs/extending.md), and the type of the rows the loaders return.
import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { products, users } from '../../src/db/schema';

export const reviews = pgTable(
  'reviews',
  {
    id: serial('id').primaryKey(),
    productId: integer('product_id')
      .notNull()
      .references(() => products.id),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    rating: integer('rating').notNull(),
    body: text('body').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    // A product's reviews, newest first.
    index('reviews_product_id_id_idx').on(table.productId, table.id),
    // One review per customer and product: a second one is CONFLICT.
    uniqueIndex('reviews_product_id_user_id_key').on(table.productId, table.userId),
    check('reviews_rating_range', sql`${table.rating} between 1 and 5`),
  ],
);

export type ReviewRow = typeof reviews.$inferSelect;
