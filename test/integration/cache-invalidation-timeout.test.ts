// An invalidation that times out while the connection stays up (Redis paused longer than
// CACHE_TIMEOUT_MS) is delivered later by itself; until then this replica reads around the cache,
// and afterwards it uses the cache again.
import Redis from 'ioredis';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createOperationRunner } from '../support/operations';

let gateway: TestGateway;
let admin: Redis;
beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 20, orders: 20 } });
  admin = new Redis(gateway.redisServer.url);
});
afterAll(async () => {
  admin?.disconnect();
  await gateway?.stop();
});

it('delivers an invalidation that timed out and uses the cache again', async () => {
  const execute = createOperationRunner(gateway.app);
  const query = '{ product(id: "6") { name } }';
  const statementsOf = async () => {
    const before = gateway.database.sqlStats.statements;
    expect((await execute(query)).errors).toBeUndefined();
    return gateway.database.sqlStats.statements - before;
  };
  await statementsOf();
  expect(await statementsOf()).toBe(0);

  // Writes (and scripts) wait 600 ms: longer than CACHE_TIMEOUT_MS (250); the connection stays up.
  await admin.call('CLIENT', 'PAUSE', '600', 'WRITE');
  await gateway.app.cache.invalidate(productCacheType, ['6']);
  expect(gateway.app.cache.pendingInvalidations()).toBe(1);
  expect(gateway.app.redisConnections.cache.status).toBe('ready');
  expect(await statementsOf()).toBe(1); // reads around the cache meanwhile

  await gateway.app.cache.invalidationsDelivered();
  expect(gateway.app.cache.pendingInvalidations()).toBe(0);
  await statementsOf(); // refills the entry
  expect(await statementsOf()).toBe(0);
});
