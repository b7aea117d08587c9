import { createHash } from 'node:crypto';
import { asc } from 'drizzle-orm';
import { orderItems, orders, products, users } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import { verifyPassword } from '../../src/auth/password';
import { createTestDatabase, seedTestData, type TestDatabase } from '../support/database';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(() => database?.close());

async function digest(): Promise<string> {
  const { db } = database;
  const tables = [
    await db.select().from(users).orderBy(asc(users.id)),
    await db.select().from(products).orderBy(asc(products.id)),
    await db.select().from(orders).orderBy(asc(orders.id)),
    await db.select().from(orderItems).orderBy(asc(orderItems.id)),
  ];
  return createHash('sha256').update(JSON.stringify(tables)).digest('hex');
}

it('produces the same rows and ids for the same seed, and other rows for another', async () => {
  const summary = await seedTestData(database, { users: 25, products: 15, orders: 120, seed: 7 });
  expect(summary).toMatchObject({ users: 25, products: 15, orders: 120 });
  const first = await digest();
  await seedTestData(database, { users: 25, products: 15, orders: 120, seed: 7 });
  expect(await digest()).toBe(first);
  await seedTestData(database, { users: 25, products: 15, orders: 120, seed: 8 });
  expect(await digest()).not.toBe(first);
});

it('creates the demo accounts with working passwords, and moves the id sequences past the data', async () => {
  await seedTestData(database, { users: 10, products: 5, orders: 20 });
  const rows = await database.db.select().from(users).orderBy(asc(users.id));
  for (const [index, account] of demoAccounts.entries()) {
    expect(rows[index]).toMatchObject({ id: index + 1, email: account.email, role: account.role });
    expect(await verifyPassword(account.password, rows[index]!.passwordHash)).toBe(true);
    expect(await verifyPassword('wrong', rows[index]!.passwordHash)).toBe(false);
  }
  const [inserted] = await database.db
    .insert(products)
    .values({ sku: 'NEW-1', name: 'New', priceCents: 100, stock: 1 })
    .returning({ id: products.id });
  expect(inserted!.id).toBe(6);
});
