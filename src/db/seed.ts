// Deterministic demo data: the same options always produce the same rows and ids, so benchmarks
// and tests can rely on them (10k users / 2k products / 100k orders for `npm run bench`).
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db } from './client';
import { mintDatabaseIdentity } from './identity';
import { orderItems, orders, products, users, type OrderStatus, type UserRole } from './schema';

export interface SeedOptions {
  /** Users in all, including the demo accounts. @default 50 */
  users?: number;
  /** @default 100 */
  products?: number;
  /** @default 500 */
  orders?: number;
  /** PRNG seed; the same seed gives the same data. @default 42 */
  seed?: number;
  /** Hashes a password for a given salt (scrypt in production; injected to keep db/ free of auth/). */
  hashPassword: (password: string, salt: Buffer) => Promise<string>;
  /** Told after each batch of rows written: how many so far, of how many. */
  onProgress?: (inserted: number, total: number) => void;
}

export interface SeedSummary {
  users: number;
  products: number;
  orders: number;
  orderItems: number;
}

/** The accounts the README lists, so a new user can log in from a playground at once. */
export const demoAccounts: ReadonlyArray<{ email: string; password: string; name: string; role: UserRole }> = [
  { email: 'admin@streamgate.dev', password: 'admin-password', name: 'Ada Admin', role: 'ADMIN' },
  { email: 'alice@streamgate.dev', password: 'alice-password', name: 'Alice Customer', role: 'CUSTOMER' },
  { email: 'bob@streamgate.dev', password: 'bob-password', name: 'Bob Customer', role: 'CUSTOMER' },
];

/** Password of every generated (non-demo) user. */
export const generatedUserPassword = 'password';

const BATCH_ROWS = 2000;
const EPOCH_MS = Date.UTC(2025, 0, 1);
const STATUSES: OrderStatus[] = ['PENDING', 'PAID', 'PAID', 'SHIPPED', 'SHIPPED', 'SHIPPED', 'CANCELLED'];
const ADJECTIVES = ['Sturdy', 'Quiet', 'Bright', 'Compact', 'Classic', 'Swift', 'Gentle', 'Bold', 'Smart', 'Tiny'];
const NOUNS = ['Lamp', 'Kettle', 'Backpack', 'Keyboard', 'Mug', 'Notebook', 'Chair', 'Speaker', 'Jacket', 'Bottle'];
const FIRST_NAMES = ['Noah', 'Mia', 'Liam', 'Emma', 'Oskar', 'Lea', 'Yuki', 'Ravi', 'Sofia', 'Amir', 'Ines', 'Tom'];
const LAST_NAMES = ['Berg', 'Costa', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Hansen', 'Ito', 'Jensen', 'Khan'];

/** mulberry32: tiny, fast, good enough for demo data, and reproducible from its seed. */
function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T;
  return { next, int, pick };
}

function saltFor(seed: number, label: string): Buffer {
  return createHash('sha256').update(`${seed}:${label}`).digest().subarray(0, 16);
}

async function insertInBatches<T>(rows: T[], insert: (batch: T[]) => Promise<unknown>, onBatch: (rows: number) => void): Promise<void> {
  for (let start = 0; start < rows.length; start += BATCH_ROWS) {
    const batch = rows.slice(start, start + BATCH_ROWS);
    await insert(batch);
    onBatch(batch.length);
  }
}

/** Replaces all shop data with the generated set (ids restart at 1) and gives the database a new identity. */
export async function seedDatabase(db: Db, options: SeedOptions): Promise<SeedSummary> {
  const seed = options.seed ?? 42;
  const userCount = Math.max(options.users ?? 50, demoAccounts.length);
  const productCount = Math.max(options.products ?? 100, 1);
  const orderCount = Math.max(options.orders ?? 500, 0);
  const random = createRandom(seed);

  const generatedHash = await options.hashPassword(generatedUserPassword, saltFor(seed, 'generated'));
  const userRows: (typeof users.$inferInsert)[] = [];
  for (let id = 1; id <= userCount; id += 1) {
    const demo = demoAccounts[id - 1];
    const createdAt = new Date(EPOCH_MS + id * 60_000);
    userRows.push({
      id,
      email: demo?.email ?? `user${id}@example.com`,
      name: demo?.name ?? `${random.pick(FIRST_NAMES)} ${random.pick(LAST_NAMES)}`,
      role: demo?.role ?? 'CUSTOMER',
      passwordHash: demo ? await options.hashPassword(demo.password, saltFor(seed, demo.email)) : generatedHash,
      createdAt,
      updatedAt: createdAt,
    });
  }

  const productRows: (typeof products.$inferInsert)[] = [];
  for (let id = 1; id <= productCount; id += 1) {
    const name = `${random.pick(ADJECTIVES)} ${random.pick(NOUNS)} ${id}`;
    const createdAt = new Date(EPOCH_MS + id * 30_000);
    productRows.push({
      id,
      sku: `SKU-${String(id).padStart(6, '0')}`,
      name,
      description: `The ${name.toLowerCase()}, made to last.`,
      priceCents: random.int(199, 49_999),
      stock: random.int(0, 500),
      createdAt,
      updatedAt: createdAt,
    });
  }

  const orderRows: (typeof orders.$inferInsert)[] = [];
  const itemRows: (typeof orderItems.$inferInsert)[] = [];
  for (let id = 1; id <= orderCount; id += 1) {
    // Skewed towards low ids, so some customers have many orders (deep pages) and most a few.
    const userId = 1 + Math.floor(random.next() ** 2 * userCount);
    const itemCount = random.int(1, Math.min(5, productCount));
    const productIds = new Set<number>();
    while (productIds.size < itemCount) productIds.add(random.int(1, productCount));
    let totalCents = 0;
    for (const productId of productIds) {
      const quantity = random.int(1, 4);
      const unitPriceCents = productRows[productId - 1]!.priceCents;
      totalCents += quantity * unitPriceCents;
      itemRows.push({ orderId: id, productId, quantity, unitPriceCents });
    }
    const createdAt = new Date(EPOCH_MS + 86_400_000 + id * 45_000);
    orderRows.push({ id, userId, status: random.pick(STATUSES), totalCents, createdAt, updatedAt: createdAt });
  }

  const total = userRows.length + productRows.length + orderRows.length + itemRows.length;
  let inserted = 0;
  const counted = (rows: number) => options.onProgress?.((inserted += rows), total);
  await db.transaction(async (tx) => {
    await tx.execute(sql`truncate table notifications, processed_events, idempotency_keys, outbox, order_items, orders, products, users restart identity cascade`);
    await insertInBatches(userRows, (batch) => tx.insert(users).values(batch), counted);
    await insertInBatches(productRows, (batch) => tx.insert(products).values(batch), counted);
    await insertInBatches(orderRows, (batch) => tx.insert(orders).values(batch), counted);
    await insertInBatches(itemRows, (batch) => tx.insert(orderItems).values(batch), counted);
    // Rows were inserted with explicit ids: move the sequences past them.
    for (const table of ['users', 'products', 'orders'] as const) {
      await tx.execute(
        sql`select setval(pg_get_serial_sequence(${table}, 'id'), greatest((select max(id) from ${sql.identifier(table)}), 1))`,
      );
    }
    // New data, new identity: Redis state derived from the old data (cache, sessions, published
    // markers) is never trusted again, and running gateways hear of it at commit.
    await mintDatabaseIdentity(tx as unknown as Db);
  });
  return { users: userRows.length, products: productRows.length, orders: orderRows.length, orderItems: itemRows.length };
}

/** True when the database has no users yet (a fresh embedded database on first start). */
export async function isDatabaseEmpty(db: Db): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).limit(1);
  return rows.length === 0;
}
