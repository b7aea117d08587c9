// Login abuse (issue "No single client can exhaust the gateway"): the failure limit holds under
// concurrent attempts, guesses at one account from many addresses are bounded per account without
// locking the user out of an address they log in from, and an oversized email never reaches Redis.
import type { RedisClient } from '../../src/redis/client';
import { demoAccounts } from '../../src/db/seed';
import { createOperationRunner } from '../support/operations';
import { startTestGateway, type TestGateway } from '../support/gateway';

const admin = demoAccounts[0]!;
const alice = demoAccounts[1]!;
const bob = demoAccounts[2]!;
const MAX_FAILURES = 10;
const ACCOUNT_MAX_FAILURES = 5;
const ACCOUNT_WINDOW_SECONDS = 120;
const LOGIN = 'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }';

let gateway: TestGateway;
let redis: RedisClient;

beforeAll(async () => {
  gateway = await startTestGateway({
    env: {
      REDIS_PREFIX: 'loginabuse',
      LOGIN_MAX_FAILURES: String(MAX_FAILURES),
      LOGIN_ACCOUNT_MAX_FAILURES: String(ACCOUNT_MAX_FAILURES),
      LOGIN_ACCOUNT_WINDOW_SECONDS: String(ACCOUNT_WINDOW_SECONDS),
    },
    // Its own redis-server whatever the topology: a test scans every key the server holds.
    ownRedisServer: true,
  });
  redis = gateway.redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
});

interface LoginOutcome {
  token?: string;
  code?: unknown;
  extensions?: Record<string, unknown>;
}

/** Over HTTP: the client address is the test's own (127.0.0.1). */
async function loginOverHttp(email: string, password: string): Promise<LoginOutcome> {
  const { body } = await gateway.graphql<{ login: { token: string } }>(LOGIN, { variables: { email, password } });
  return { token: body.data?.login.token, code: body.errors?.[0]?.extensions?.code, extensions: body.errors?.[0]?.extensions };
}

/** Through Apollo with a context of our own, to come from any address. */
async function loginFrom(clientAddress: string, email: string, password: string): Promise<LoginOutcome> {
  const { data, errors } = await createOperationRunner(gateway.app, clientAddress)<{ login: { token: string } }>(LOGIN, { email, password });
  return { token: data?.login.token, code: errors?.[0]?.extensions?.code as string | undefined, extensions: errors?.[0]?.extensions };
}

const countCodes = (outcomes: LoginOutcome[], code: string) => outcomes.filter((outcome) => outcome.code === code).length;

it('checks at most the limit of passwords when 20 wrong ones arrive at once after one failure', async () => {
  // Logged in before from this address: only the per-(email, address) limit applies here.
  await gateway.login(alice.email, alice.password);
  expect((await loginOverHttp(alice.email, 'wrong-0')).code).toBe('UNAUTHENTICATED');

  const outcomes = await Promise.all(Array.from({ length: 20 }, (_, index) => loginOverHttp(alice.email, `wrong-${index + 1}`)));
  const checked = 1 + countCodes(outcomes, 'UNAUTHENTICATED');
  const limited = countCodes(outcomes, 'RATE_LIMITED');
  expect(checked + limited).toBe(21);
  expect(checked).toBeLessThanOrEqual(MAX_FAILURES);
  for (const outcome of outcomes.filter((each) => each.code === 'RATE_LIMITED')) {
    expect(outcome.extensions!.retryAfterSeconds).toEqual(expect.any(Number));
  }
  // The right password from this address waits too; from another address it gets in.
  expect((await loginOverHttp(alice.email, alice.password)).code).toBe('RATE_LIMITED');
  expect((await loginFrom('10.20.30.40', alice.email, alice.password)).token).toEqual(expect.any(String));
});

it('bounds guesses at one account from many addresses, briefly, and never for an address the user logged in from', async () => {
  const usualAddress = '10.0.0.1';
  expect((await loginFrom(usualAddress, bob.email, bob.password)).token).toEqual(expect.any(String));

  const attackers = Array.from({ length: 12 }, (_, index) => `192.0.2.${index + 1}`);
  const outcomes = await Promise.all(attackers.map((address) => loginFrom(address, bob.email, 'guess')));
  expect(countCodes(outcomes, 'UNAUTHENTICATED')).toBeLessThanOrEqual(ACCOUNT_MAX_FAILURES);
  expect(countCodes(outcomes, 'RATE_LIMITED')).toBeGreaterThanOrEqual(attackers.length - ACCOUNT_MAX_FAILURES);

  // A new address waits, at most the account window, even with the right password...
  const newAddress = '198.51.100.7';
  const waiting = await loginFrom(newAddress, bob.email, bob.password);
  expect(waiting.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
  expect(waiting.extensions!.retryAfterSeconds).toBeLessThanOrEqual(ACCOUNT_WINDOW_SECONDS);
  // ...while the address bob logs in from is not locked out by the attack.
  expect((await loginFrom(usualAddress, bob.email, bob.password)).token).toEqual(expect.any(String));

  // More guesses do not extend the wait: the lock ends with the window.
  const accountKey = `${gateway.app.keys.loginFailures()}-account:${bob.email}`;
  const msLeft = await redis.pttl(accountKey);
  expect(msLeft).toBeGreaterThan(0);
  expect(msLeft).toBeLessThanOrEqual(ACCOUNT_WINDOW_SECONDS * 1000);
  expect((await loginFrom('192.0.2.99', bob.email, 'guess')).code).toBe('RATE_LIMITED');
  expect(await redis.pttl(accountKey)).toBeLessThanOrEqual(msLeft);

  // When the window has ended (its key expired), the new address gets in with the right password.
  await redis.del(accountKey);
  expect((await loginFrom(newAddress, bob.email, bob.password)).token).toEqual(expect.any(String));
});

it('refuses an oversized email with BAD_USER_INPUT before it reaches Redis', async () => {
  const hugeEmail = `${'x'.repeat(900_000)}@example.com`;
  for (const email of [hugeEmail, `${'y'.repeat(309)}@example.com`]) {
    const outcome = await loginOverHttp(email, 'whatever');
    expect(outcome.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'email' });
  }
  const keys = await redis.keys('*');
  expect(keys.filter((key) => key.includes('xxxxxxxxxx') || key.includes('yyyyyyyyyy'))).toEqual([]);
  expect(keys.filter((key) => key.length > 400)).toEqual([]);

  // The gateway keeps serving logins.
  expect((await loginOverHttp(admin.email, admin.password)).token).toEqual(expect.any(String));
});
