// Rows written straight into the database, for the state a test starts from, without going
// through the API (no events, no outbox: nothing a test of its own events should see). Each
// fixture invalidates the cached lists it joins, as a write would, so a list read afterwards
// shows it. Ids are the database's next ones: never an id another test could have cached.
import { eq } from 'drizzle-orm';
import type { App } from '../app';
import { invalidate, staleEntries } from '../cache/invalidation';
import { generatedUserPassword } from '../db/seed';
import { orderItems, orders, products, users, type OrderRow, type OrderStatus, type ProductRow, type UserRole, type UserRow } from '../db/schema';
import { hashPassword } from '../auth/password';
import { productPageCacheType } from '../modules/catalog/product.loader';
import { orderPageCacheType, orderScopesOf } from '../modules/orders/order.loader';
import { userPageCacheType } from '../modules/users/user.loader';
import { defineCacheScripts } from '../redis/scripts';

export interface UserFixture {
  name?: string;
  /** @default a unique address */
  email?: string;
  /** @default 'CUSTOMER' */
  role?: UserRole;
}

export interface ProductFixture {
  name?: string;
  /** @default a unique SKU */
  sku?: string;
  description?: string;
  /** @default 1000 */
  priceCents?: number;
  /** @default 100 */
  stock?: number;
}

export interface OrderFixture {
  userId: number;
  /** Lines at the products' current prices; stock is not taken (a fixture is a past order). */
  items: ReadonlyArray<{ productId: number; quantity: number }>;
  /** @default 'PENDING' */
  status?: OrderStatus;
}

export interface Fixtures {
  /** A user whose password is "password" (log in as it with `as: user.id`). */
  user(fields?: UserFixture): Promise<UserRow>;
  product(fields?: ProductFixture): Promise<ProductRow>;
  order(fields: OrderFixture): Promise<OrderRow>;
}

/** Hashed once per process: scrypt is slow on purpose. */
let passwordHash: Promise<string> | undefined;
let uniqueCount = 0;
const unique = () => `${process.pid}-${Date.now().toString(36)}-${(uniqueCount += 1)}`;

export function createFixtures(app: App): Fixtures {
  const db = app.database.db;
  const cacheScripts = defineCacheScripts(app.redisConnections.cache);
  const invalidateLists = (...entries: Parameters<typeof invalidate>[2]) => invalidate(cacheScripts, app.keys, entries);
  return {
    async user(fields = {}) {
      const id = unique();
      const [row] = await db
        .insert(users)
        .values({
          name: fields.name ?? `Test User ${id}`,
          email: fields.email ?? `user-${id}@test.streamgate.dev`,
          role: fields.role ?? 'CUSTOMER',
          passwordHash: await (passwordHash ??= hashPassword(generatedUserPassword)),
        })
        .returning();
      await invalidateLists(staleEntries(userPageCacheType, ['all']));
      return row!;
    },
    async product(fields = {}) {
      const id = unique();
      const [row] = await db
        .insert(products)
        .values({
          sku: fields.sku ?? `TEST-${id}`,
          name: fields.name ?? `Test Product ${id}`,
          description: fields.description ?? '',
          priceCents: fields.priceCents ?? 1000,
          stock: fields.stock ?? 100,
        })
        .returning();
      await invalidateLists(staleEntries(productPageCacheType, ['all']));
      return row!;
    },
    async order({ userId, items, status = 'PENDING' }) {
      const order = await db.transaction(async (tx) => {
        const prices = new Map<number, number>();
        for (const { productId } of items) {
          const [product] = await tx.select({ priceCents: products.priceCents }).from(products).where(eq(products.id, productId));
          if (!product) throw new Error(`fixtures.order: there is no product ${productId}`);
          prices.set(productId, product.priceCents);
        }
        const totalCents = items.reduce((sum, { productId, quantity }) => sum + prices.get(productId)! * quantity, 0);
        const [row] = await tx.insert(orders).values({ userId, status, totalCents }).returning();
        if (items.length) {
          await tx.insert(orderItems).values(items.map(({ productId, quantity }) => ({ orderId: row!.id, productId, quantity, unitPriceCents: prices.get(productId)! })));
        }
        return row!;
      });
      await invalidateLists(staleEntries(orderPageCacheType, orderScopesOf(userId)));
      return order;
    },
  };
}
