import { asc } from 'drizzle-orm';
import { orders as ordersTable } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import { createTestGateway, type As, type TestGateway } from 'streamgate/testing';
import { errorCodes, type OperationResult } from '../support/operations';

const alice = demoAccounts[1]!;

interface Connection<Node> {
  edges: Array<{ cursor: string; node: Node }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null };
}

// On the test kit: the real app in-process on its snapshot (20 users, 30 products, 200 orders),
// no port; the tokens of a login are replaced by `as` (the login itself is tested in sessions.test.ts).
let gateway: TestGateway;
const ALICE: As = 'alice';
const ADMIN: As = 'admin';

async function execute<Data = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, as?: As): Promise<OperationResult<Data>> {
  return (await gateway.execute(query, { variables, as })) as OperationResult<Data>;
}

beforeAll(async () => {
  gateway = await createTestGateway();
});

afterAll(() => gateway?.close());

// The directives every GraphQL client may send (Apollo Client and Relay use @include/@skip for
// optional fields). They were once missing from the schema: each such query was refused.
describe('the specified directives', () => {
  const PRODUCT = `query ($id: ID!, $withStock: Boolean!, $brief: Boolean!) {
    product(id: $id) { id stock @include(if: $withStock) name @skip(if: $brief) }
  }`;

  it('answers @include and @skip from variables, costed like the fields they keep', async () => {
    expect((await execute(PRODUCT, { id: '2', withStock: true, brief: true })).data).toEqual({ product: { id: '2', stock: expect.any(Number) } });
    expect((await execute(PRODUCT, { id: '2', withStock: false, brief: false })).data).toEqual({ product: { id: '2', name: expect.any(String) } });
  });

  it('lists them in introspection, as codegen and playgrounds read it', async () => {
    const result = await execute<{ __schema: { directives: Array<{ name: string }> } }>('{ __schema { directives { name } } }');
    expect(result.data!.__schema.directives.map((directive) => directive.name)).toEqual(expect.arrayContaining(['include', 'skip', 'deprecated', 'specifiedBy', 'live']));
  });
});

describe('products', () => {
  const PRODUCTS = `query ($first: Int, $after: String, $search: String) {
    products(first: $first, after: $after, search: $search) {
      edges { cursor node { id sku name priceCents stock } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }`;

  it('pages through the whole catalogue with cursors, in id order, without repeats', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const result: OperationResult<{ products: Connection<{ id: string }> }> = await execute(PRODUCTS, { first: 7, after });
      expect(result.errors).toBeUndefined();
      const connection: Connection<{ id: string }> = result.data!.products;
      expect(connection.pageInfo.hasPreviousPage).toBe(after !== null);
      seen.push(...connection.edges.map((edge) => edge.node.id));
      pages += 1;
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(pages).toBe(5);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, index) => String(index + 1)));
  });

  it('searches names and SKUs case-insensitively, treating % and _ literally', async () => {
    const bySku = await execute<{ products: Connection<{ sku: string }> }>(PRODUCTS, { search: 'sku-000012' });
    expect(bySku.data!.products.edges.map((edge) => edge.node.sku)).toEqual(['SKU-000012']);
    const wildcard = await execute<{ products: Connection<unknown> }>(PRODUCTS, { search: '%' });
    expect(wildcard.data!.products.edges).toHaveLength(0);
  });

  it('returns one product by id, and null for an unknown id', async () => {
    const found = await execute<{ product: { sku: string } | null }>('{ product(id: "3") { sku } }');
    expect(found.data!.product).toEqual({ sku: 'SKU-000003' });
    const missing = await execute<{ product: unknown }>('{ product(id: "999999") { sku } }');
    expect(missing.errors).toBeUndefined();
    expect(missing.data!.product).toBeNull();
  });

  it.each([
    ['an id of the wrong shape', '{ product(id: "abc") { sku } }'],
    ['a negative id', '{ product(id: "-4") { sku } }'],
    ['an id past the integer range', '{ product(id: "99999999999999") { sku } }'],
    ['a page larger than 100', '{ products(first: 101) { edges { cursor } } }'],
    ['a negative page size', '{ products(first: -1) { edges { cursor } } }'],
    ['a cursor that was never issued', '{ products(after: "bm90LWEtY3Vyc29y") { edges { cursor } } }'],
    ['a search longer than 100 characters', `{ products(search: "${'x'.repeat(101)}") { edges { cursor } } }`],
  ])('rejects %s with BAD_USER_INPUT', async (_label, query) => {
    const result = await execute(query);
    expect(errorCodes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.errors![0]!.message).not.toMatch(/internal/i);
  });
});

describe('users and sessions in the context', () => {
  it('answers me with the logged-in user, and null without a session', async () => {
    const mine = await execute<{ me: { email: string; role: string } }>('{ me { email role } }', {}, ALICE);
    expect(mine.data!.me).toEqual({ email: alice.email, role: 'CUSTOMER' });
    const anonymous = await execute<{ me: unknown }>('{ me { email } }');
    expect(anonymous.data!.me).toBeNull();
  });

  it('lets only admins list users', async () => {
    const asCustomer = await execute('{ users { edges { node { id } } } }', {}, ALICE);
    expect(errorCodes(asCustomer)).toEqual(['FORBIDDEN']);
    const anonymous = await execute('{ users { edges { node { id } } } }');
    expect(errorCodes(anonymous)).toEqual(['UNAUTHENTICATED']);
    const asAdmin = await execute<{ users: Connection<{ email: string }> }>(
      '{ users(first: 3) { edges { node { email } } pageInfo { hasNextPage } } }',
      {},
      ADMIN,
    );
    expect(asAdmin.data!.users.edges.map((edge) => edge.node.email)).toEqual(demoAccounts.map((account) => account.email));
    expect(asAdmin.data!.users.pageInfo.hasNextPage).toBe(true);
  });

  it('shows a customer only their own user record', async () => {
    const self = await execute<{ user: { email: string } | null }>('{ user(id: "2") { email } }', {}, ALICE);
    expect(self.data!.user).toEqual({ email: alice.email });
    const other = await execute<{ user: unknown }>('{ user(id: "3") { email } }', {}, ALICE);
    expect(other.errors).toBeUndefined();
    expect(other.data!.user).toBeNull();
  });
});

describe('orders', () => {
  const ORDERS = `query ($first: Int, $after: String, $status: OrderStatus) {
    orders(first: $first, after: $after, status: $status) {
      edges { node { id status totalCents user { id } items { quantity unitPriceCents product { id } } } }
      pageInfo { hasNextPage endCursor }
    }
  }`;
  type OrderNode = {
    id: string;
    status: string;
    totalCents: number;
    user: { id: string };
    items: Array<{ quantity: number; unitPriceCents: number; product: { id: string } }>;
  };

  async function allOrderIdsOf(userId: number): Promise<number[]> {
    const rows = await gateway.app.database.db.select().from(ordersTable).orderBy(asc(ordersTable.id));
    return rows.filter((row) => row.userId === userId).map((row) => row.id);
  }

  it('requires a session', async () => {
    expect(errorCodes(await execute(ORDERS))).toEqual(['UNAUTHENTICATED']);
  });

  it("gives a customer exactly their own orders, newest first, with consistent totals", async () => {
    const ids: number[] = [];
    let after: string | null = null;
    for (;;) {
      const result: OperationResult<{ orders: Connection<OrderNode> }> = await execute(ORDERS, { first: 10, after }, ALICE);
      expect(result.errors).toBeUndefined();
      for (const { node } of result.data!.orders.edges) {
        expect(node.user.id).toBe('2');
        expect(node.totalCents).toBe(node.items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0));
        ids.push(Number(node.id));
      }
      if (!result.data!.orders.pageInfo.hasNextPage) break;
      after = result.data!.orders.pageInfo.endCursor;
    }
    const expected = (await allOrderIdsOf(2)).reverse();
    expect(expected.length).toBeGreaterThan(10);
    expect(ids).toEqual(expected);
  });

  it('filters by status and lets admins see every customer', async () => {
    const result = await execute<{ orders: Connection<OrderNode> }>(ORDERS, { first: 100, status: 'SHIPPED' }, ADMIN);
    const nodes = result.data!.orders.edges.map((edge) => edge.node);
    expect(nodes.length).toBeGreaterThan(0);
    expect(new Set(nodes.map((node) => node.status))).toEqual(new Set(['SHIPPED']));
    expect(new Set(nodes.map((node) => node.user.id)).size).toBeGreaterThan(2);
  });

  it("answers another customer's order exactly like a missing one", async () => {
    const [bobsOrderId] = await allOrderIdsOf(3);
    const [alicesOrderId] = await allOrderIdsOf(2);
    const foreign = await execute<{ order: unknown }>(`{ order(id: "${bobsOrderId}") { id } }`, {}, ALICE);
    const missing = await execute<{ order: unknown }>('{ order(id: "999999") { id } }', {}, ALICE);
    expect(foreign).toEqual(missing);
    expect(foreign.data!.order).toBeNull();
    const own = await execute<{ order: { id: string } }>(`{ order(id: "${alicesOrderId}") { id } }`, {}, ALICE);
    expect(own.data!.order).toEqual({ id: String(alicesOrderId) });
    const asAdmin = await execute<{ order: { id: string } }>(`{ order(id: "${bobsOrderId}") { id } }`, {}, ADMIN);
    expect(asAdmin.data!.order).toEqual({ id: String(bobsOrderId) });
  });

  it("pages a user's orders from User.orders", async () => {
    const result = await execute<{ me: { orders: Connection<{ id: string }> } }>(
      '{ me { orders(first: 3) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }',
      {},
      ALICE,
    );
    const expected = (await allOrderIdsOf(2)).reverse().slice(0, 3).map(String);
    expect(result.data!.me.orders.edges.map((edge) => edge.node.id)).toEqual(expected);
    const next = await execute<{ me: { orders: Connection<{ id: string }> } }>(
      'query ($after: String) { me { orders(first: 3, after: $after) { edges { node { id } } } } }',
      { after: result.data!.me.orders.pageInfo.endCursor },
      ALICE,
    );
    expect(next.data!.me.orders.edges.map((edge) => edge.node.id)).toEqual(
      (await allOrderIdsOf(2)).reverse().slice(3, 6).map(String),
    );
  });
});
