// A mutation whose event the relay cannot publish in time (here: the relay is stopped; in
// production: the master of the streams failing over while the cache's master is up, or a relay
// backlog) returns after OUTBOX_PUBLISH_WAIT_MS anyway. It must not leave its stale cache entries
// behind: the relay invalidates them only when it publishes, so the mutation invalidates them
// itself before it returns, and a read right after it sees the write.
import { startTestGateway, type TestGateway } from '../support/gateway';
import { mutate, postGraphQL } from '../support/graphql';
import { RESTOCK_PRODUCT } from '../support/documents';
import { waitUntil } from '../support/wait';

const PRODUCT_STOCK = 'query { product(id: "1") { id stock } }';

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 5, products: 5, orders: 0 }, env: { OUTBOX_PUBLISH_WAIT_MS: '200' } });
});

afterAll(() => gateway?.stop());

const stock = async () => (await postGraphQL<{ product: { stock: number } }>(gateway, PRODUCT_STOCK)).body.data!.product.stock;

it('invalidates what an unpublished event made stale before the mutation returns, so the next read sees the write', async () => {
  const token = await gateway.login('admin@streamgate.dev', 'admin-password');
  const before = await stock();
  // Cached now (a second read is a hit: the entry is there to go stale).
  expect(await stock()).toBe(before);
  await gateway.app.relay.stop();
  try {
    const restocked = await mutate<{ restockProduct: { stock: number } }>(gateway, RESTOCK_PRODUCT, { id: '1', quantity: 5 }, token);
    expect(restocked.restockProduct.stock).toBe(before + 5);
    expect(await gateway.app.relay.backlog()).toBeGreaterThan(0);
    expect(await stock()).toBe(before + 5);
  } finally {
    await gateway.app.relay.start();
  }
  await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the relay published the row once started again');
  expect(await stock()).toBe(before + 5);
});
