// createTestGateway's queries and mutations: executeOperation with a real context, `as`, typed
// results, the matchers, fixtures, events and reset(), against a real Redis and PGlite.
import { performance } from 'node:perf_hooks';
import { parse } from 'graphql';
import { createTestGateway, type TestGateway, type TypedDocument } from 'streamgate/testing';

const PRODUCT = parse('query Product($id: ID!) { product(id: $id) { id name stock } }') as TypedDocument<
  { product: { id: string; name: string; stock: number } | null },
  { id: string }
>;
const VIEWER = 'query { me { id email role } }';
const PLACE_ORDER = `mutation Place($input: PlaceOrderInput!) { placeOrder(input: $input) { id status totalCents } }`;

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await createTestGateway();
});
afterAll(() => gateway?.close());

// Its boot and reset() times are timing.test.ts's.
test('boots without a port: no HTTP face at all, operations run through the GraphQL core', () => {
  expect(gateway.app.server).toBeUndefined();
});

test('a typed query reads the seeded snapshot through the loaders', async () => {
  const result = await gateway.execute(PRODUCT, { variables: { id: '1' } });
  expect(result.errors).toBeUndefined();
  const product = result.data?.product;
  expect(product?.id).toBe('1');
  expect(typeof product?.stock).toBe('number');
});

test('`as` runs an operation as a demo account, a role or a user id', async () => {
  expect((await gateway.execute(VIEWER, { as: 'alice' })).data).toEqual({ me: { id: '2', email: 'alice@streamgate.dev', role: 'CUSTOMER' } });
  expect((await gateway.execute(VIEWER, { as: 'ADMIN' })).data).toEqual({ me: expect.objectContaining({ id: '1', role: 'ADMIN' }) });
  const user = await gateway.fixtures.user({ name: 'Fixture Fiona' });
  expect((await gateway.execute(VIEWER, { as: user.id })).data).toEqual({ me: expect.objectContaining({ id: String(user.id) }) });
  expect((await gateway.execute(VIEWER)).data).toEqual({ me: null });
  expect(await gateway.execute('query { orders(first: 1) { edges { cursor } } }')).toHaveGraphQLError('UNAUTHENTICATED');
});

test('fixtures: an order of a new user, at the products\' prices, in the lists the loaders cached before', async () => {
  const user = await gateway.fixtures.user();
  const ORDERS = 'query { orders(first: 5) { edges { node { id status totalCents items { quantity product { id } } } } } }';
  // Cached empty first: the fixture must invalidate the list as a write would.
  expect((await gateway.execute(ORDERS, { as: user.id })).data).toEqual({ orders: { edges: [] } });
  const [cheap, dear] = [await gateway.fixtures.product({ priceCents: 100 }), await gateway.fixtures.product({ priceCents: 2500 })];
  const order = await gateway.fixtures.order({ userId: user.id, status: 'PAID', items: [{ productId: cheap.id, quantity: 3 }, { productId: dear.id, quantity: 1 }] });
  expect(order.totalCents).toBe(2800);
  const listed = (await gateway.execute(ORDERS, { as: user.id })).data as { orders: { edges: Array<{ node: { id: string; status: string; totalCents: number } }> } };
  expect(listed.orders.edges.map(({ node }) => [node.id, node.status, node.totalCents])).toEqual([[String(order.id), 'PAID', 2800]]);
});

test('toHaveGraphQLError sees the code a client would', async () => {
  expect(await gateway.execute(PRODUCT, { variables: { id: '999999' } })).not.toHaveGraphQLError('INTERNAL_SERVER_ERROR');
  const missing = await gateway.execute('mutation { payOrder(id: "999999") { id } }', { as: 'admin' });
  expect(missing).toHaveGraphQLError('NOT_FOUND');
  expect(() => expect(missing).toHaveGraphQLError('FORBIDDEN')).toThrow(/expected a GraphQL error with code/);
});

test('a mutation publishes its event through the outbox, and toHavePublished finds it', async () => {
  const product = await gateway.fixtures.product({ priceCents: 250, stock: 5 });
  const placed = await gateway.execute(PLACE_ORDER, { as: 'alice', variables: { input: { items: [{ productId: String(product.id), quantity: 2 }] } } });
  expect(placed.errors).toBeUndefined();
  const orderId = Number((placed.data as { placeOrder: { id: string } }).placeOrder.id);
  const events = await gateway.events('orders');
  expect(events).toHavePublished({ type: 'ORDER_PLACED', data: { orderId, totalCents: 500 } });
  expect(events).toHavePublished({ type: 'OrderPlaced', aggregate: { type: 'Order' } });
  expect(events).not.toHavePublished({ type: 'ORDER_CANCELLED' });
  expect(() => expect(events).toHavePublished({ type: 'ORDER_PLACED', data: { orderId: -1 } })).toThrow(/expected an event like/);
});

test('reset() gives the next test the snapshot again: no rows, no events, no cache of the last state', async () => {
  const product = await gateway.fixtures.product({ name: 'Short-lived' });
  expect((await gateway.execute(PRODUCT, { variables: { id: String(product.id) } })).data?.product?.name).toBe('Short-lived');
  await gateway.execute(PLACE_ORDER, { as: 'alice', variables: { input: { items: [{ productId: String(product.id), quantity: 1 }] } } });
  expect((await gateway.events('orders')).length).toBeGreaterThan(0);

  const started = performance.now();
  await gateway.reset();
  console.log(`reset: ${(performance.now() - started).toFixed(0)} ms`);

  expect((await gateway.execute(PRODUCT, { variables: { id: String(product.id) } })).data?.product).toBeNull();
  expect(await gateway.events('orders')).toEqual([]);
});
