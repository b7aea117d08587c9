// Revoked sessions end their websockets on every replica: two replicas share one Redis and one
// database; a user logs out (one session or all of them) or has their role changed on replica A,
// and the sockets those sessions opened on replica B are closed with 4403, while every other
// socket stays open and keeps receiving events. A revocation B cannot hear (its subscriber
// connection is down) is caught by the re-check B runs once the connection is back.
import type { RedisClient } from '../../src/redis/client';
import { once } from 'node:events';
import { hashToken } from '../../src/auth/session.store';
import { demoAccounts, generatedUserPassword } from '../../src/db/seed';
import type { TestGateway } from '../support/gateway';
import { startSubscriber, type TestSubscriber } from '../support/subscriber';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';
import { mutate } from '../support/graphql';
import { RESTOCK_PRODUCT } from '../support/documents';
import { streamTailOf } from '../support/streams';

const [admin, alice, bob] = demoAccounts as [(typeof demoAccounts)[0], (typeof demoAccounts)[0], (typeof demoAccounts)[0]];
const PRODUCT_ID = '4';

const PRODUCT_CHANGED = 'subscription ($id: ID!, $after: String) { productChanged(id: $id, after: $after) { cursor type } }';
const UPDATE_USER = 'mutation ($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id role } }';
const ME = '{ me { id } }';

const REVOKED = { code: 4403, reason: 'Session revoked; log in again' };
/** The re-check's close: the session is gone, whether revoked or expired. */
const RECHECKED = { code: 4403, reason: 'Session expired or revoked; log in again' };
/** Bounds on waiting for something to happen, not speed targets. */
const CLOSE_BOUND_MS = 10_000;
const RECONNECT_BOUND_MS = 10_000;

let gateways: TwoGateways;
let a: TestGateway;
let b: TestGateway;
let control: RedisClient;
let maxClients: string | undefined;
let adminToken: string;
const subscribers: TestSubscriber[] = [];

beforeAll(async () => {
  // The periodic re-check stays out of the way: every close here comes from a revocation or a resync.
  // Their own redis-server whatever the topology: the test lowers maxclients and kills pub/sub clients.
  gateways = await startTwoGateways({ seed: { users: 10, products: 10, orders: 10 }, env: { WS_SESSION_CHECK_SECONDS: '3600' }, ownRedisServer: true });
  ({ a, b } = gateways);
  control = gateways.redis.connect();
  maxClients = ((await control.config('GET', 'maxclients')) as string[])[1];
  adminToken = await a.login(admin.email, admin.password);
});

afterAll(async () => {
  await Promise.all(subscribers.map((subscriber) => subscriber.dispose()));
  if (maxClients) await control?.config('SET', 'maxclients', maxClients);
  control?.disconnect();
  await gateways?.stop();
});

/** A socket on replica B authenticated with `token`, watching one product; waits until it is acknowledged. */
async function socketOnB(token: string): Promise<TestSubscriber> {
  const after = await streamTailOf(gateways.redis, 'catalog');
  const subscriber = startSubscriber({ urls: b.wsUrl, token, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: PRODUCT_ID }, after, isRetrying: false });
  subscribers.push(subscriber);
  await subscriber.waitForConnections(1);
  return subscriber;
}

/** The first close of the subscriber's socket. */
function closeOf(subscriber: TestSubscriber): Promise<{ code: number; reason: string }> {
  if (subscriber.closes.length) return Promise.resolve(subscriber.closes[0]!);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stopListening();
      reject(new Error(`no close within ${CLOSE_BOUND_MS} ms`));
    }, CLOSE_BOUND_MS);
    const stopListening = subscriber.client.on('closed', (event) => {
      clearTimeout(timer);
      stopListening();
      const { code, reason } = event as { code: number; reason: string };
      resolve({ code, reason: String(reason) });
    });
  });
}

/**
 * The sockets are still open and still served: an event published now reaches each of them, and
 * none was closed. Run after a close proved the revocation was handled on B.
 */
async function expectStillServed(open: TestSubscriber[]): Promise<void> {
  const received = open.map((subscriber) => subscriber.events.length);
  await mutate(a, RESTOCK_PRODUCT, { id: PRODUCT_ID, quantity: 1 }, adminToken);
  await Promise.all(open.map((subscriber, index) => subscriber.waitForEvents(received[index]! + 1)));
  for (const subscriber of open) expect(subscriber.closes).toEqual([]);
}

async function statusWith(token: string): Promise<number> {
  return (await a.graphql(ME, { token })).status;
}

it("closes every socket of the user on replica B with 4403 when they run logoutAll on replica A, and no one else's", async () => {
  const aliceTokens = [await a.login(alice.email, alice.password), await b.login(alice.email, alice.password)];
  const aliceSockets = [await socketOnB(aliceTokens[0]!), await socketOnB(aliceTokens[1]!)];
  const bobSocket = await socketOnB(await b.login(bob.email, bob.password));

  const loggedOut = await mutate<{ logoutAll: number }>(a, 'mutation { logoutAll }', {}, aliceTokens[0]);
  expect(loggedOut.logoutAll).toBeGreaterThanOrEqual(2);

  for (const socket of aliceSockets) expect(await closeOf(socket)).toEqual(REVOKED);
  await expectStillServed([bobSocket]);
  expect(await statusWith(aliceTokens[1]!)).toBe(401);
});

it('closes only the sockets of the session that logged out; another session of the same user keeps its socket and its events', async () => {
  const [loggingOut, staying] = [await a.login(alice.email, alice.password), await a.login(alice.email, alice.password)];
  const loggingOutSockets = [await socketOnB(loggingOut), await socketOnB(loggingOut)];
  const stayingSocket = await socketOnB(staying);

  expect(await mutate<{ logout: boolean }>(a, 'mutation { logout }', {}, loggingOut)).toEqual({ logout: true });

  for (const socket of loggingOutSockets) expect(await closeOf(socket)).toEqual(REVOKED);
  await expectStillServed([stayingSocket]);
  expect(await statusWith(staying)).toBe(200);
});

it("closes a user's sockets when an admin changes their role, and leaves the admin's open", async () => {
  const userId = 5;
  const userToken = await a.login(`user${userId}@example.com`, generatedUserPassword);
  const userSocket = await socketOnB(userToken);
  const adminSocket = await socketOnB(adminToken);

  const updated = await mutate<{ updateUser: { id: string; role: string } }>(a, UPDATE_USER, { id: String(userId), input: { role: 'ADMIN' } }, adminToken);
  expect(updated.updateUser).toEqual({ id: String(userId), role: 'ADMIN' });

  expect(await closeOf(userSocket)).toEqual(REVOKED);
  await expectStillServed([adminSocket]);
  expect(await statusWith(userToken)).toBe(401);
});

it('closes sockets whose session ended while the replica could not hear revocations, once its subscriber connection is back', async () => {
  const deletedUserId = 6;
  const deletedToken = await a.login(`user${deletedUserId}@example.com`, generatedUserPassword);
  const aliceToken = await a.login(alice.email, alice.password);
  const deletedSocket = await socketOnB(deletedToken);
  const aliceSocket = await socketOnB(aliceToken);
  const bobSocket = await socketOnB(await a.login(bob.email, bob.password));

  // Both replicas' subscriber connections are killed and kept from reconnecting (no new clients).
  const subscriberOfB = b.app.redisConnections.subscriber;
  const subscriberOfA = a.app.redisConnections.subscriber;
  const bound = { signal: AbortSignal.timeout(RECONNECT_BOUND_MS) };
  const closed = Promise.all([once(subscriberOfA, 'close', bound), once(subscriberOfB, 'close', bound)]);
  await control.config('SET', 'maxclients', '1');
  try {
    expect(await control.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(2);
    await closed;
    // One session disappears without any message; the other's revocation is published while no
    // replica is listening.
    expect(await control.del(b.app.keys.session(hashToken(deletedToken)))).toBe(1);
    expect(await mutate<{ logout: boolean }>(a, 'mutation { logout }', {}, aliceToken)).toEqual({ logout: true });
    expect(subscriberOfB.status).not.toBe('ready');
  } finally {
    const ready = Promise.all([once(subscriberOfA, 'ready', bound), once(subscriberOfB, 'ready', bound)]);
    await control.config('SET', 'maxclients', maxClients!);
    await ready;
  }

  // The resync's re-check closed them (its close reason), not the revocation message.
  expect(await closeOf(deletedSocket)).toEqual(RECHECKED);
  expect(await closeOf(aliceSocket)).toEqual(RECHECKED);
  await expectStillServed([bobSocket]);
});
