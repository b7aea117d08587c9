// The one-statement-per-level rule: however many parents a level has, its relation is loaded by
// one SQL statement, counted at the database client.
import { demoAccounts } from '../../src/db/seed';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createOperationRunner } from '../support/operations';

let gateway: TestGateway;
let execute: ReturnType<typeof createOperationRunner>;
let adminToken: string;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 40, products: 60, orders: 400 } });
  execute = createOperationRunner(gateway.app);
  const admin = demoAccounts[0]!;
  adminToken = await gateway.login(admin.email, admin.password);
});

afterAll(() => gateway?.stop());

async function countStatements(query: string): Promise<{ statements: number; data: unknown }> {
  const before = gateway.database.sqlStats.statements;
  const result = await execute(query, {}, adminToken);
  expect(result.errors).toBeUndefined();
  return { statements: gateway.database.sqlStats.statements - before, data: result.data };
}

type OrdersData = { orders: { edges: Array<{ node: { items: Array<{ product: { name: string } }>; user: { name: string } } }> } };

it('loads orders(first: 50) { items { product } user } with one statement per level', async () => {
  const { statements, data } = await countStatements(
    '{ orders(first: 50) { edges { node { items { product { name } } user { name } } } } }',
  );
  const edges = (data as OrdersData).orders.edges;
  expect(edges).toHaveLength(50);
  const productNames = new Set(edges.flatMap((edge) => edge.node.items.map((item) => item.product.name)));
  const userNames = new Set(edges.map((edge) => edge.node.user.name));
  expect(productNames.size).toBeGreaterThan(20);
  expect(userNames.size).toBeGreaterThan(5);
  // orders page, items of all 50 orders, their products, their users
  expect(statements).toBe(4);
});

it('costs the same number of statements for 5 parents as for 100', async () => {
  const query = (first: number) => `{ orders(first: ${first}) { edges { node { items { product { name } } user { name } } } } }`;
  const small = await countStatements(query(5));
  const large = await countStatements(query(100));
  expect(large.statements).toBe(small.statements);
});

it("pages every user's orders (a one-to-many with paging) in one statement", async () => {
  const { statements, data } = await countStatements(
    '{ users(first: 30) { edges { node { orders(first: 3) { edges { node { id items { quantity } } } } } } } }',
  );
  const users = (data as { users: { edges: Array<{ node: { orders: { edges: unknown[] } } }> } }).users.edges;
  expect(users).toHaveLength(30);
  expect(users.filter((user) => user.node.orders.edges.length === 3).length).toBeGreaterThan(5);
  // users page, orders pages of all 30 users (window function), items of those orders
  expect(statements).toBe(3);
});
