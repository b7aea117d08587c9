// A mutation whose event the relay cannot publish in time (here: the relay is stopped; in
// production: the master of the streams failing over while the cache's master is up, or a relay
// backlog) returns after OUTBOX_PUBLISH_WAIT_MS anyway. It must not leave its stale cache entries
// behind: the relay invalidates them only when it publishes, so the mutation invalidates them
// itself before it returns, and publishes the invalidation message the relay would have (the
// copies held in memory drop what it names: without it, the first test reads the old stock from
// one), and a read right after it sees the write. If that invalidation fails
// too (a command timing out while the client follows a failover, as seen on a Redis Cluster) while
// reads of the cache still succeed, the entries are held: read from Postgres until an invalidation
// is confirmed.
import { recordingLogger, startTestGateway, type TestGateway } from '../support/gateway';
import { mutate, postGraphQL } from '../support/graphql';
import { RESTOCK_PRODUCT } from '../support/documents';
import { waitUntil } from '../../src/testing/wait';

const PRODUCT_STOCK = 'query { product(id: "1") { id stock } }';

let gateway: TestGateway;
const { logger, lines } = recordingLogger();

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 5, products: 5, orders: 0 }, env: { OUTBOX_PUBLISH_WAIT_MS: '200' }, logger });
});

afterAll(() => gateway?.stop());

const login = () => gateway.login('admin@streamgate.dev', 'admin-password');
const stock = async () => (await postGraphQL<{ product: { stock: number } }>(gateway, PRODUCT_STOCK)).body.data!.product.stock;

it('invalidates what an unpublished event made stale before the mutation returns, so the next read sees the write', async () => {
  const token = await login();
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

/** Makes the cache's invalidation script fail (as a timed-out command does) until the returned function is called. */
function failInvalidations(): () => void {
  const connection = gateway.app.redisConnections.cache as unknown as Record<'invalidateEntries', (...args: unknown[]) => Promise<unknown>>;
  const real = connection.invalidateEntries;
  connection.invalidateEntries = () => Promise.reject(new Error('Command timed out'));
  return () => void (connection.invalidateEntries = real);
}

it('when that invalidation fails too, reads the entries from Postgres until one succeeds, then caches them again', async () => {
  const token = await login();
  const before = await stock();
  expect(await stock()).toBe(before);
  const failOpens = () => gateway.app.cacheStats.byType.get('Product')?.failOpens ?? 0;
  await gateway.app.relay.stop();
  const restoreInvalidations = failInvalidations();
  try {
    const restocked = await mutate<{ restockProduct: { stock: number } }>(gateway, RESTOCK_PRODUCT, { id: '1', quantity: 3 }, token);
    expect(restocked.restockProduct.stock).toBe(before + 3);
    expect(lines.some((line) => String(line.msg).startsWith('cannot invalidate the entries of an unpublished event'))).toBe(true);
    // The cached product (and the cached response) still hold the old stock: this read goes around them.
    const failOpensBefore = failOpens();
    expect(await stock()).toBe(before + 3);
    expect(failOpens()).toBeGreaterThan(failOpensBefore);
  } finally {
    restoreInvalidations();
  }
  await waitUntil(async () => lines.some((line) => String(line.msg).startsWith('the held entries of an unpublished event are invalidated')), 'the held invalidation is confirmed');
  const failOpensConfirmed = failOpens();
  expect(await stock()).toBe(before + 3);
  expect(await stock()).toBe(before + 3);
  expect(failOpens()).toBe(failOpensConfirmed);
  await gateway.app.relay.start();
  await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the relay published the row once started again');
});
