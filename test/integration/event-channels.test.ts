// The relay publishes each event on its narrow subscription channels, with the stream id as the
// cursor: in the same script as the XADD, or on a Redis Cluster (sharded pub/sub) right after it.
import type { RedisClient, RedisSubscriber } from '../../src/redis/client';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { streamTail } from '../support/streams';

let gateway: TestGateway;
let subscriber: RedisSubscriber & { disconnect(): void };
let redis: RedisClient;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 10, orders: 10 } });
  subscriber = gateway.redis.subscriber();
  redis = gateway.redis.connect();
});

afterAll(async () => {
  subscriber?.disconnect();
  redis?.disconnect();
  await gateway?.stop();
});

function nextMessage(channel: string): Promise<{ cursor: string; event: { type: string; data: Record<string, unknown> } }> {
  return new Promise((resolve) => {
    const onMessage = (received: string, message: string) => {
      if (received !== channel) return;
      subscriber.off('message', onMessage);
      resolve(JSON.parse(message));
    };
    subscriber.on('message', onMessage);
  });
}

it('publishes an order event on the order, the customer and the firehose channels, with its stream id', async () => {
  const { keys } = gateway.redis;
  const placing = nextMessage(keys.channel('user-orders', 2));
  const firehose = nextMessage(keys.channel('order-events'));
  await subscriber.subscribe(keys.channel('user-orders', 2), keys.channel('order-events'));
  const context = gateway.app.createContext({ viewer: { id: 2, role: 'CUSTOMER' }, sessionToken: null }, { requestId: 't', clientAddress: '127.0.0.1' });
  const response = await gateway.app.graphql.apollo.executeOperation<{ placeOrder: { id: string } }>(
    { query: 'mutation { placeOrder(input: { items: [{ productId: "3", quantity: 1 }] }) { id } }' },
    { contextValue: context },
  );
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  const orderId = Number(response.body.singleResult.data!.placeOrder.id);

  const latestStreamId = () => streamTail(redis, keys.stream('orders'));
  const streamId = await latestStreamId();
  for (const message of [await placing, await firehose]) {
    expect(message.cursor).toBe(streamId);
    expect(message.event.type).toBe('OrderPlaced');
    expect(message.event.data.orderId).toBe(orderId);
  }

  const paid = nextMessage(keys.channel('order', orderId));
  await subscriber.subscribe(keys.channel('order', orderId));
  await gateway.app.graphql.apollo.executeOperation({ query: `mutation { payOrder(id: "${orderId}") { id } }` }, { contextValue: context });
  const message = await paid;
  expect(message.event.type).toBe('OrderPaid');
  expect(message.cursor).toBe(await latestStreamId());
});
