// Two gateways on two different databases sharing one Redis and one prefix (two developers'
// `npm start` against the default Redis, a staging copy pointed at production's Redis by mistake):
// each must keep to its own data, sessions and events, and neither may undo the other - no
// re-binding back and forth, no boundary entries written over and over.
import type { RedisClient } from '../../src/redis/client';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import { startSubscriber } from '../support/subscriber';
import { waitForChannelSubscribers } from '../support/replica-clients';
import { mutate } from '../support/graphql';
import { line, placeOrder, UPDATE_PRODUCT } from '../support/documents';
import { readStreamFields } from '../support/streams';

const MY_ORDERS = 'subscription { myOrders { cursor order { id } } }';
const PRODUCT = '{ product(id: "1") { name } }';

let sharedRedis: TestRedis;
let redis: RedisClient;
let first: TestGateway;
let second: TestGateway;

beforeAll(async () => {
  sharedRedis = await startTestRedis();
  redis = sharedRedis.connect();
  first = await startTestGateway({ redis: sharedRedis, seed: { users: 10, products: 10, orders: 20, seed: 1 } });
  second = await startTestGateway({ redis: sharedRedis, seed: { users: 10, products: 10, orders: 20, seed: 2 } });
});

afterAll(async () => {
  redis?.disconnect();
  await second?.stop();
  await first?.stop();
  await sharedRedis?.stop();
});

const boundaries = async () => (await readStreamFields(redis, sharedRedis.keys.stream('orders'))).filter((entry) => Object.values(entry.fields).includes('DatabaseReplaced')).length;

it('keeps each gateway to its own data, sessions and events', async () => {
  expect(first.app.identity.current).not.toBe(second.app.identity.current);
  const adminOfFirst = await first.login('admin@streamgate.dev', 'admin-password');
  const adminOfSecond = await second.login('admin@streamgate.dev', 'admin-password');
  await mutate(first, UPDATE_PRODUCT, { id: '1', input: { name: 'First shop lamp' } }, adminOfFirst);
  await mutate(second, UPDATE_PRODUCT, { id: '1', input: { name: 'Second shop lamp' } }, adminOfSecond);
  // Twice each: the second answer is a cached one, and still each gateway's own.
  for (let round = 0; round < 2; round += 1) {
    expect((await first.graphql(PRODUCT)).body.data).toEqual({ product: { name: 'First shop lamp' } });
    expect((await second.graphql(PRODUCT)).body.data).toEqual({ product: { name: 'Second shop lamp' } });
  }
  // A session belongs to the database it was minted against.
  expect((await second.graphql('{ me { id } }', { token: adminOfFirst })).status).toBe(401);

  // Alice (user 2) exists in both databases; each subscriber gets only its own database's orders.
  const aliceOfFirst = await first.login('alice@streamgate.dev', 'alice-password');
  const aliceOfSecond = await second.login('alice@streamgate.dev', 'alice-password');
  const onFirst = startSubscriber({ urls: first.wsUrl, token: aliceOfFirst, query: MY_ORDERS, field: 'myOrders' });
  const onSecond = startSubscriber({ urls: second.wsUrl, token: aliceOfSecond, query: MY_ORDERS, field: 'myOrders' });
  try {
    await Promise.all([onFirst.waitForConnections(1), onSecond.waitForConnections(1)]);
    await waitForChannelSubscribers(redis, { [sharedRedis.keys.channel('user-orders', 2)]: 2 });
    const boundariesBefore = await boundaries();
    const placedOnFirst = (await placeOrder(first, aliceOfFirst, [line(1)])).body.data!.placeOrder.id;
    const placedOnSecond = (await placeOrder(second, aliceOfSecond, [line(2)])).body.data!.placeOrder.id;
    const placedAgainOnFirst = (await placeOrder(first, aliceOfFirst, [line(3)])).body.data!.placeOrder.id;

    const fromFirst = await onFirst.waitForEvents(2);
    const fromSecond = await onSecond.waitForEvents(1);
    expect(fromFirst.map((event) => (event.order as { id: string }).id)).toEqual([placedOnFirst, placedAgainOnFirst]);
    expect(fromSecond.map((event) => (event.order as { id: string }).id)).toEqual([placedOnSecond]);

    // Both published into the one stream, each entry named by its database; nobody re-bound anything.
    const entries = await readStreamFields(redis, sharedRedis.keys.stream('orders'));
    const databases = entries.slice(-3).map((entry) => entry.fields.database);
    expect(databases).toEqual([first.app.identity.current, second.app.identity.current, first.app.identity.current]);
    expect(await boundaries()).toBe(boundariesBefore);
    expect(first.app.relay.skippedRows + second.app.relay.skippedRows).toBe(0);
  } finally {
    await Promise.all([onFirst.dispose(), onSecond.dispose()]);
  }

  // A resume on the second gateway from the first one's cursor is not a resume of its history.
  const fromOtherHistory = startSubscriber({
    urls: second.wsUrl,
    token: aliceOfSecond,
    query: 'subscription ($after: String) { myOrders(after: $after) { cursor } }',
    field: 'myOrders',
    after: (await readStreamFields(redis, sharedRedis.keys.stream('orders'))).at(-1)!.streamId,
    isRetrying: false,
  });
  try {
    const [error] = await fromOtherHistory.waitForError();
    expect(error?.extensions?.code).toBe('CURSOR_EXPIRED');
  } finally {
    await fromOtherHistory.dispose();
  }
});
