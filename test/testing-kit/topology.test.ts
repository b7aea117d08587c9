// The kit runs on the Redis set-up TEST_REDIS_TOPOLOGY names (CI runs the kit's and the example
// module's tests again on a Cluster and on Sentinel), and a smaller seed when a test asks for one.
import { createTestGateway, type TestGateway } from 'streamgate/testing';
import { isCluster } from '../../src/redis/client';

const topology = process.env.TEST_REDIS_URL ? 'external' : process.env.TEST_REDIS_TOPOLOGY || 'standalone';

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await createTestGateway({ seed: { users: 4, products: 3, orders: 0 } });
});
afterAll(() => gateway?.close());

test(`the gateway's Redis is the ${topology} set-up the environment asks for`, async () => {
  const { redis } = gateway.app;
  expect(isCluster(redis)).toBe(topology === 'cluster');
  expect(Boolean(!isCluster(redis) && redis.options.sentinels)).toBe(topology === 'sentinel');
  // And it works there: a write's event is read back from the stream on that set-up.
  const placed = await gateway.execute('mutation { placeOrder(input: { items: [{ productId: "2", quantity: 1 }] }) { id } }', { as: 'alice' });
  expect(placed.errors).toBeUndefined();
  expect(await gateway.events('orders')).toHavePublished({ type: 'ORDER_PLACED' });
});

test('the database holds the seed the test asked for, and reset() restores it', async () => {
  const count = async () => (await gateway.app.database.db.execute('select count(*)::int as n from products')) as unknown as { rows: Array<{ n: number }> };
  expect((await count()).rows[0]!.n).toBe(3);
  await gateway.fixtures.product({ name: 'One more' });
  expect((await count()).rows[0]!.n).toBe(4);
  await gateway.reset();
  expect((await count()).rows[0]!.n).toBe(3);
});
