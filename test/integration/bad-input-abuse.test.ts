// Input a client controls never becomes a server error: a NUL character (which Postgres text
// cannot hold) in a search, a login email or a profile, an order whose total does not fit its
// column, a subscription sent over HTTP. Each is a client error with the right code, nothing is
// written, nothing the user typed reaches the logs, and the gateway keeps serving.
import type { RedisClient } from '../../src/redis/client';
import { eq } from 'drizzle-orm';
import { products } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import { MAX_TOTAL_CENTS } from '../../src/modules/orders/order.service';
import { recordingLogger, startTestGateway, type TestGateway } from '../support/gateway';
import { openRawSocket, type ProtocolError } from '../support/raw-websocket';
import { line, placeOrder } from '../support/documents';
import { writeSnapshot } from '../support/write-snapshot';

const [admin, alice] = demoAccounts as [(typeof demoAccounts)[number], (typeof demoAccounts)[number]];
const NUL = '\u0000';
const PRICEY = 3;
const MAX_PRICE_CENTS = 100_000_000;
const SEARCH = 'query ($search: String) { products(first: 5, search: $search) { edges { node { id } } } }';

let gateway: TestGateway;
let redis: RedisClient;
const log = recordingLogger();
const tokens = { admin: '', alice: '' };

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 5, products: 10, orders: 0 }, logger: log.logger });
  redis = gateway.redis.connect();
  tokens.admin = await gateway.login(admin.email, admin.password);
  tokens.alice = await gateway.login(alice.email, alice.password);
});

afterAll(async () => {
  redis.disconnect();
  await gateway.stop();
});

/** Everything the gateway logged, at any level, as text (to look for user values in it: use values no log line has otherwise). */
const everythingLogged = () => JSON.stringify(log.lines);

async function expectStillServing() {
  const { status, body } = await gateway.graphql<{ product: { id: string } }>('{ product(id: "1") { id } }');
  expect(status).toBe(200);
  expect(body.data?.product.id).toBe('1');
}

describe('a NUL character', () => {
  it('in `search` over HTTP is BAD_USER_INPUT, not an internal error', async () => {
    const { status, body } = await gateway.graphql(SEARCH, { variables: { search: `wid${NUL}get` } });
    expect(status).toBe(200);
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(body.errors?.[0]?.extensions?.argumentName).toBe('search');
    await expectStillServing();
  });

  it('in `search` over the websocket is BAD_USER_INPUT', async () => {
    const socket = await openRawSocket(gateway.wsUrl);
    try {
      await socket.init();
      socket.send({ id: 's1', type: 'subscribe', payload: { query: SEARCH, variables: { search: `${NUL}` } } });
      const [result] = await socket.waitForNext<{ errors?: ProtocolError[] }>('s1', 1);
      expect(result?.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    } finally {
      await socket.dispose();
    }
  });

  it('in a login email is BAD_USER_INPUT, and the email is not logged', async () => {
    const email = `mallory7f3${NUL}@evil.example`;
    const { body } = await gateway.graphql('mutation ($email: String!) { login(email: $email, password: "x") { token } }', {
      variables: { email },
    });
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(everythingLogged()).not.toContain('mallory7f3');
    await expectStillServing();
  });

  it('in a profile name or email is BAD_USER_INPUT, nothing is written, and the values are not logged', async () => {
    const before = await writeSnapshot(gateway.database.db, redis, gateway.redis.keys);
    for (const input of [{ name: `Eve7f3${NUL}` }, { email: `eve7f3${NUL}@evil.example` }]) {
      const { body } = await gateway.graphql('mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { id } }', {
        variables: { input },
        token: tokens.alice,
      });
      expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    }
    expect(await writeSnapshot(gateway.database.db, redis, gateway.redis.keys)).toEqual(before);
    expect(everythingLogged()).not.toContain('ve7f3');
    await expectStillServing();
  });
});

describe('an order total past the 32-bit column', () => {
  it('is BAD_USER_INPUT and takes no stock, while the largest total that fits is accepted', async () => {
    await gateway.database.db.update(products).set({ priceCents: MAX_PRICE_CENTS, stock: 1000 }).where(eq(products.id, PRICEY));
    const quantity = Math.floor(MAX_TOTAL_CENTS / MAX_PRICE_CENTS) + 1; // 22 units
    const before = await writeSnapshot(gateway.database.db, redis, gateway.redis.keys);
    const { status, body } = await placeOrder(gateway, tokens.alice, [line(PRICEY, quantity)]);
    expect(status).toBe(200);
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(await writeSnapshot(gateway.database.db, redis, gateway.redis.keys)).toEqual(before);
    // The largest total that fits is still accepted.
    const fits = await placeOrder(gateway, tokens.alice, [line(PRICEY, quantity - 1)]);
    expect(fits.body.errors).toBeUndefined();
    expect(fits.body.data?.placeOrder.totalCents).toBe((quantity - 1) * MAX_PRICE_CENTS);
  });
});

describe('a subscription sent over HTTP', () => {
  it('is a 400 BAD_REQUEST that points at the websocket', async () => {
    const { status, body } = await gateway.graphql('subscription { productChanged(id: "1") { cursor } }');
    expect(status).toBe(400);
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_REQUEST']);
    expect(body.errors?.[0]?.message).toMatch(/websocket/i);
    await expectStillServing();
  });
});
