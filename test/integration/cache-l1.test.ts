// The optional in-process L1 (CACHE_L1_TYPES) on two replicas sharing one Redis: repeated reads are
// answered without a Redis round trip, a write on one replica drops the entry on the other through
// the invalidation channel, and a replica whose subscriber connection drops (so it may miss
// invalidations) flushes its L1 and only uses it again once the connection is back.
import { parseInvalidationMessage } from '../../src/cache/invalidation-message';
import type { RedisClient } from '../../src/redis/client';
import type { RedisSubscriber } from '../../src/redis/client';
import type { Socket } from 'node:net';
import { demoAccounts } from '../../src/db/seed';
import type { TestGateway } from '../support/gateway';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';

let pair: TwoGateways;
let admin: RedisClient;
let adminToken: string;

beforeAll(async () => {
  pair = await startTwoGateways({ env: { CACHE_L1_TYPES: 'Product' }, seed: { users: 10, products: 10, orders: 20 } });
  admin = pair.redis.connect();
  const account = demoAccounts[0]!;
  adminToken = await pair.a.login(account.email, account.password);
});

afterAll(async () => {
  admin?.disconnect();
  await pair?.stop();
});

async function readPrice(gateway: TestGateway, id: number): Promise<number> {
  const { body } = await gateway.graphql<{ product: { priceCents: number } | null }>('query ($id: ID!) { product(id: $id) { priceCents } }', {
    variables: { id: String(id) },
  });
  if (body.errors || !body.data?.product) throw new Error(`product(${id}) failed: ${JSON.stringify(body)}`);
  return body.data.product.priceCents;
}

async function updatePrice(gateway: TestGateway, id: number, priceCents: number): Promise<void> {
  const { body } = await gateway.graphql('mutation ($id: ID!, $priceCents: Int!) { updateProduct(id: $id, input: { priceCents: $priceCents }) { id } }', {
    variables: { id: String(id), priceCents },
    token: adminToken,
  });
  expect(body.errors).toBeUndefined();
}

/** Reads on a replica and reports whether L1 answered it, and how many cache round trips it cost. */
async function observedRead(gateway: TestGateway, id: number) {
  const stats = gateway.app.cacheStats;
  const l1HitsBefore = stats.byType.get('Product')?.l1Hits ?? 0;
  const roundTripsBefore = stats.redisRoundTrips;
  const priceCents = await readPrice(gateway, id);
  return {
    priceCents,
    isL1Hit: (stats.byType.get('Product')?.l1Hits ?? 0) > l1HitsBefore,
    redisRoundTrips: stats.redisRoundTrips - roundTripsBefore,
  };
}

/** Resolves when the replica's subscriber connection has received the invalidation of product `id`. */
function invalidationReceived(gateway: TestGateway, id: number): Promise<void> {
  const subscriber = gateway.app.redisConnections.subscriber;
  return new Promise((resolve) => {
    const onMessage = (channel: string, message: string) => {
      const names = (keys: { type: string; keyIds: readonly string[] }) => keys.type === 'Product' && keys.keyIds.includes(String(id));
      if (channel !== pair.redis.keys.cacheInvalidationChannel() || !parseInvalidationMessage(message).some(names)) return;
      subscriber.off('message', onMessage);
      resolve();
    };
    subscriber.on('message', onMessage);
  });
}

const nextEvent = (connection: RedisSubscriber, event: 'close' | 'ready') => new Promise<void>((resolve) => connection.once(event, () => resolve()));

/**
 * Fills replica B's L1 with product `id`: L1 keeps values B read from Redis (a value B loaded from
 * the database itself goes to Redis only), so the product is first cached in Redis through A.
 */
async function fillL1OfB(id: number): Promise<number> {
  await readPrice(pair.a, id);
  const fromRedis = await observedRead(pair.b, id);
  expect(fromRedis).toMatchObject({ isL1Hit: false, redisRoundTrips: 1 });
  return fromRedis.priceCents;
}

it('answers a repeated read from L1 without Redis, and drops the entry when the other replica writes', async () => {
  const id = 3;
  const original = await fillL1OfB(id);
  expect(await observedRead(pair.b, id)).toEqual({ priceCents: original, isL1Hit: true, redisRoundTrips: 0 });

  const isInvalidatedOnB = invalidationReceived(pair.b, id);
  await updatePrice(pair.a, id, original + 1);
  await isInvalidatedOnB;
  expect(await observedRead(pair.b, id)).toMatchObject({ priceCents: original + 1, isL1Hit: false });
  expect(await fillL1OfB(id)).toBe(original + 1);
  expect(await observedRead(pair.b, id)).toEqual({ priceCents: original + 1, isL1Hit: true, redisRoundTrips: 0 });
});

it('flushes L1 when its subscriber connection drops, and uses L1 again once it is back', async () => {
  const id = 4;
  const original = await fillL1OfB(id);
  expect(await observedRead(pair.b, id)).toEqual({ priceCents: original, isL1Hit: true, redisRoundTrips: 0 });

  // Kill only replica B's subscriber connection (A's stays up), as a network blip would.
  const subscriber = pair.b.app.redisConnections.subscriber;
  const socket = (subscriber as unknown as { stream: Socket }).stream;
  const isClosed = nextEvent(subscriber, 'close');
  const isReady = nextEvent(subscriber, 'ready');
  expect(await admin.client('KILL', 'ADDR', `${socket.localAddress}:${socket.localPort}`, 'TYPE', 'pubsub')).toBe(1);
  await isClosed;

  // A write B cannot hear about (its subscriber is down): its L1 must not answer with the old price.
  await updatePrice(pair.a, id, original + 1);
  expect(await observedRead(pair.b, id)).toMatchObject({ priceCents: original + 1, isL1Hit: false });

  await isReady;
  expect(await fillL1OfB(id)).toBe(original + 1);
  expect(await observedRead(pair.b, id)).toEqual({ priceCents: original + 1, isL1Hit: true, redisRoundTrips: 0 });

  // And invalidations reach it again over the new connection.
  const isInvalidatedOnB = invalidationReceived(pair.b, id);
  await updatePrice(pair.a, id, original + 2);
  await isInvalidatedOnB;
  expect(await observedRead(pair.b, id)).toMatchObject({ priceCents: original + 2, isL1Hit: false });
});
