// A channel whose last local subscriber left, subscribed again: the replica must subscribe it in
// Redis again, and the new subscriber must get what is published from then on live (not only what
// a replay finds). On a Redis Cluster (TEST_REDIS_TOPOLOGY=cluster) this is sharded pub/sub: the
// replica's SUNSUBSCRIBE and SSUBSCRIBE go to the master of the channel's slot.
import { startTestGateway, type TestGateway } from '../support/gateway';
import { mutate } from '../support/graphql';
import { channelSubscribers, waitForChannelSubscribers } from '../support/replica-clients';
import { streamTailOf } from '../support/streams';
import { startSubscriber } from '../support/subscriber';
import { waitUntil } from '../../src/testing/wait';

const MY_ORDERS = 'subscription ($after: String) { myOrders(after: $after) { cursor type order { id status } } }';
const PLACE_ORDER = 'mutation { placeOrder(input: { items: [{ productId: "1", quantity: 1 }] }) { id } }';

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 5, products: 5, orders: 0 } });
});

afterAll(() => gateway?.stop());

it('subscribes a channel in Redis again after its last subscriber left, and delivers live events on it', async () => {
  const token = await gateway.login('alice@streamgate.dev', 'alice-password');
  const channel = gateway.app.keys.channel('user-orders', 2);
  for (let round = 1; round <= 3; round++) {
    const subscriber = startSubscriber({ urls: gateway.wsUrl, token, query: MY_ORDERS, field: 'myOrders', after: await streamTailOf(gateway.redis, 'orders') });
    // Live: the replica holds the channel in Redis before the order is placed, so no replay can stand in for it.
    await waitForChannelSubscribers(gateway.app.redis, { [channel]: 1 }, 10_000);
    await mutate(gateway, PLACE_ORDER, {}, token);
    await subscriber.waitForEvents(1);
    expect(subscriber.events).toHaveLength(1);
    await subscriber.dispose();
    // Gone from Redis once the last subscriber left.
    await waitUntil(async () => (await channelSubscribers(gateway.app.redis, channel)) === 0, `round ${round}: the channel is unsubscribed in Redis`);
  }
});
