// createTestGateway's subscriptions: the real feed (Redis pub/sub, replay after a cursor), refusals
// as a client gets them, next(n) and expectNoEvent. No sleeps: next() waits on the results.
import { createTestGateway, type TestGateway } from 'streamgate/testing';

const PRODUCT_CHANGED = 'subscription Changed($id: ID!, $after: String) { productChanged(id: $id, after: $after) { cursor type product { id stock } } }';
const RESTOCK = 'mutation Restock($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { id stock } }';

interface ProductChanged {
  productChanged: { cursor: string; type: string; product: { id: string; stock: number } };
}

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await createTestGateway();
});
afterEach(() => gateway.reset());
afterAll(() => gateway?.close());

test('a subscriber gets the events of the writes after it subscribed, in order', async () => {
  const product = await gateway.fixtures.product({ stock: 10 });
  const changes = await gateway.subscribe(PRODUCT_CHANGED, { variables: { id: String(product.id) } });
  await gateway.execute(RESTOCK, { as: 'admin', variables: { id: String(product.id), quantity: 5 } });
  await gateway.execute(RESTOCK, { as: 'admin', variables: { id: String(product.id), quantity: 1 } });

  const results = (await changes.next(2)) as Array<{ data?: ProductChanged }>;
  // Each payload carries the product as it is when the event is resolved ("now"), so both may
  // show the later stock: what is ordered and complete is the events themselves.
  expect(results.map((result) => result.data?.productChanged.type)).toEqual(['PRODUCT_RESTOCKED', 'PRODUCT_RESTOCKED']);
  expect(results[1]!.data?.productChanged.product.stock).toBe(16);
  // The cursor a client resumes with is the stream entry's id.
  const published = await gateway.events('catalog');
  expect(results.map((result) => result.data?.productChanged.cursor)).toEqual(published.map((event) => event.cursor));
});

test('`after` replays what was published since the cursor, then goes live', async () => {
  const product = await gateway.fixtures.product({ stock: 1 });
  const id = String(product.id);
  await gateway.execute(RESTOCK, { as: 'admin', variables: { id, quantity: 1 } });
  await gateway.execute(RESTOCK, { as: 'admin', variables: { id, quantity: 2 } });
  const [first] = await gateway.events('catalog');

  const resumed = await gateway.subscribe(PRODUCT_CHANGED, { variables: { id, after: first!.cursor } });
  const replayed = (await resumed.next()) as { data?: ProductChanged };
  expect(replayed.data?.productChanged.cursor).not.toBe(first!.cursor);
  await gateway.execute(RESTOCK, { as: 'admin', variables: { id, quantity: 3 } });
  const live = (await resumed.next()) as { data?: ProductChanged };
  expect(live.data?.productChanged.product.stock).toBe(7);
});

test('a refusal is the one result, with the code a websocket client would get', async () => {
  const missing = await gateway.subscribe(PRODUCT_CHANGED, { variables: { id: '999999' } });
  expect(await missing.next()).toHaveGraphQLError('NOT_FOUND');
  expect(missing.isComplete).toBe(true);
  await expect(missing.next()).rejects.toThrow(/ended after 0 of the 1/);

  const invalid = await gateway.subscribe('subscription { productChanged(id: "1") { nope } }');
  expect(await invalid.next()).toHaveGraphQLError('GRAPHQL_VALIDATION_FAILED');
});

test('expectNoEvent passes when nothing comes, and fails as soon as something does', async () => {
  const [watched, other] = [await gateway.fixtures.product(), await gateway.fixtures.product()];
  const changes = await gateway.subscribe(PRODUCT_CHANGED, { variables: { id: String(watched.id) } });
  // A write to another product is published before the mutation returns: it would be here by now.
  await gateway.execute(RESTOCK, { as: 'admin', variables: { id: String(other.id), quantity: 1 } });
  await changes.expectNoEvent(50);

  const failing = changes.expectNoEvent(10_000);
  await gateway.execute(RESTOCK, { as: 'admin', variables: { id: String(watched.id), quantity: 1 } });
  await expect(failing).rejects.toThrow(/expected no event within 10000 ms/);
});

test('for await reads the same results; reset() ends the subscriptions a test left open', async () => {
  const product = await gateway.fixtures.product();
  const changes = await gateway.subscribe(PRODUCT_CHANGED, { variables: { id: String(product.id) } });
  await gateway.execute(RESTOCK, { as: 'admin', variables: { id: String(product.id), quantity: 4 } });
  for await (const result of changes) {
    expect((result as { data?: ProductChanged }).data?.productChanged.product.stock).toBe(104);
    break;
  }
  await gateway.reset();
  expect(changes.isClosed).toBe(true);
  expect(gateway.app.redisConnections).toBeDefined();
});
