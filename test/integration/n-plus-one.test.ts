// The one-statement-per-level rule: however many parents a level has, its relation is loaded by
// one SQL statement (counted at the database client), and once the cache is warm, by none. On the
// test kit (its snapshot: 20 users, 30 products, 200 orders), as the admin, who sees every order.
import { createTestGateway, type TestGateway } from 'streamgate/testing';
import { unlinkMatching } from '../../src/redis/client';

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await createTestGateway();
});

afterAll(() => gateway?.close());

/** Empties the cache, keeping sessions: every read after this is cold. */
async function coldCache(): Promise<void> {
  await unlinkMatching(gateway.app.redis, gateway.app.keys.cacheValue('*', '*'));
  await unlinkMatching(gateway.app.redis, gateway.app.keys.cacheLease('*', '*'));
}

async function countStatements(query: string): Promise<{ statements: number; data: unknown }> {
  const before = gateway.app.database.sqlStats.statements;
  const result = await gateway.execute(query, { as: 'admin' });
  expect(result.errors).toBeUndefined();
  return { statements: gateway.app.database.sqlStats.statements - before, data: result.data };
}

const NESTED_ORDERS = (first: number) => `{ orders(first: ${first}) { edges { node { items { product { name } } user { name } } } } }`;
type OrdersData = { orders: { edges: Array<{ node: { items: Array<{ product: { name: string } }>; user: { name: string } } }> } };

it('loads orders(first: 50) { items { product } user } with one statement per level cold, and none warm', async () => {
  await coldCache();
  const cold = await countStatements(NESTED_ORDERS(50));
  const edges = (cold.data as OrdersData).orders.edges;
  expect(edges).toHaveLength(50);
  expect(new Set(edges.flatMap((edge) => edge.node.items.map((item) => item.product.name))).size).toBeGreaterThan(20);
  expect(new Set(edges.map((edge) => edge.node.user.name)).size).toBeGreaterThan(5);
  // orders page, items of all 50 orders, their products, their users
  expect(cold.statements).toBe(4);

  const warm = await countStatements(NESTED_ORDERS(50));
  expect(warm.data).toEqual(cold.data);
  expect(warm.statements).toBe(0);
});

it('costs the same number of statements for 5 parents as for 100', async () => {
  await coldCache();
  const small = await countStatements(NESTED_ORDERS(5));
  await coldCache();
  const large = await countStatements(NESTED_ORDERS(100));
  expect(small.statements).toBe(4);
  expect(large.statements).toBe(small.statements);
});

it("pages every user's orders (a one-to-many with paging) in one statement cold, none warm", async () => {
  const query = '{ users(first: 20) { edges { node { orders(first: 3) { edges { node { id items { quantity } } } } } } } }';
  await coldCache();
  const cold = await countStatements(query);
  const users = (cold.data as { users: { edges: Array<{ node: { orders: { edges: unknown[] } } }> } }).users.edges;
  expect(users).toHaveLength(20);
  expect(users.filter((user) => user.node.orders.edges.length === 3).length).toBeGreaterThan(5);
  // users page, orders pages of all 20 users (window function), items of those orders
  expect(cold.statements).toBe(3);
  const warm = await countStatements(query);
  expect(warm.data).toEqual(cold.data);
  expect(warm.statements).toBe(0);
});

it('reads through to Postgres on every request when the cache is off', async () => {
  const uncached = await createTestGateway({ env: { CACHE_ENABLED: 'false' } });
  try {
    for (let round = 0; round < 2; round += 1) {
      const before = uncached.app.database.sqlStats.statements;
      expect((await uncached.execute(NESTED_ORDERS(20), { as: 'admin' })).errors).toBeUndefined();
      expect(uncached.app.database.sqlStats.statements - before).toBe(4);
    }
  } finally {
    await uncached.close();
  }
});
