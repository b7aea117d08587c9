// Sessions in a real Redis: opaque tokens stored only as hashes, a sliding TTL, a per-user index,
// logout and logoutAll.
import type { RedisClient } from '../../src/redis/client';
import { hashToken } from '../../src/auth/session.store';
import { demoAccounts } from '../../src/db/seed';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { keysMatching } from '../support/cache-entries';

const alice = demoAccounts[1]!;
const TTL_SECONDS = 600;

let gateway: TestGateway;
let redis: RedisClient;

beforeAll(async () => {
  gateway = await startTestGateway({ env: { SESSION_TTL_SECONDS: String(TTL_SECONDS), REDIS_PREFIX: 'sessiontest' } });
  redis = gateway.redis.connect();
});

afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
});

const ME = '{ me { email } }';
const sessionKey = (tokenHash: string) => gateway.app.keys.session(tokenHash);
const aliceSessionsKey = () => gateway.app.keys.userSessions(2);

it('logs in with the demo credentials and stores only a hash of the token, with the TTL', async () => {
  const token = await gateway.login(alice.email, alice.password);
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const keys = await keysMatching(redis, 'sessiontest:*');
  expect(keys.some((key) => key.includes(token))).toBe(false);
  expect(keys).toContain(sessionKey(hashToken(token)));
  expect(await redis.sismember(aliceSessionsKey(), hashToken(token))).toBe(1);
  const ttl = await redis.ttl(sessionKey(hashToken(token)));
  expect(ttl).toBeGreaterThan(TTL_SECONDS - 5);
  expect(ttl).toBeLessThanOrEqual(TTL_SECONDS);
});

it('normalises the email and rejects wrong credentials with one message for both cases', async () => {
  const mixedCase = await gateway.graphql<{ login: { user: { email: string } } }>(
    `mutation { login(email: "  ALICE@streamgate.dev ", password: "${alice.password}") { user { email } } }`,
  );
  expect(mixedCase.body.data!.login.user.email).toBe(alice.email);
  const wrongPassword = await gateway.graphql(`mutation { login(email: "${alice.email}", password: "nope") { token } }`);
  const unknownEmail = await gateway.graphql('mutation { login(email: "nobody@example.com", password: "nope") { token } }');
  expect(wrongPassword.body.errors).toEqual(unknownEmail.body.errors);
  expect(wrongPassword.body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
});

it('extends the session on every use (sliding TTL)', async () => {
  const token = await gateway.login(alice.email, alice.password);
  await redis.expire(sessionKey(hashToken(token)), 30);
  const response = await gateway.graphql<{ me: { email: string } }>(ME, { token });
  expect(response.body.data!.me.email).toBe(alice.email);
  expect(await redis.ttl(sessionKey(hashToken(token)))).toBeGreaterThan(TTL_SECONDS - 5);
});

it('treats an expired session as UNAUTHENTICATED', async () => {
  const token = await gateway.login(alice.email, alice.password);
  await redis.del(sessionKey(hashToken(token)));
  const response = await gateway.graphql(ME, { token });
  expect(response.status).toBe(401);
  expect(response.body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
});

it('logout ends only the current session', async () => {
  const first = await gateway.login(alice.email, alice.password);
  const second = await gateway.login(alice.email, alice.password);
  const loggedOut = await gateway.graphql<{ logout: boolean }>('mutation { logout }', { token: first });
  expect(loggedOut.body.data!.logout).toBe(true);
  expect((await gateway.graphql(ME, { token: first })).status).toBe(401);
  expect((await gateway.graphql<{ me: { email: string } }>(ME, { token: second })).body.data!.me.email).toBe(alice.email);
  expect(await redis.sismember(aliceSessionsKey(), hashToken(first))).toBe(0);
});

it('logoutAll ends every session of the user and no one else', async () => {
  const tokens = [
    await gateway.login(alice.email, alice.password),
    await gateway.login(alice.email, alice.password),
    await gateway.login(alice.email, alice.password),
  ];
  const bob = demoAccounts[2]!;
  const bobToken = await gateway.login(bob.email, bob.password);
  // Earlier tests left alice sessions too (and one index entry whose session expired): count the live ones.
  const indexed = await redis.smembers(aliceSessionsKey());
  const live = (await Promise.all(indexed.map((hash) => redis.exists(sessionKey(hash))))).filter(Boolean);
  expect(live.length).toBeGreaterThanOrEqual(tokens.length);
  const result = await gateway.graphql<{ logoutAll: number }>('mutation { logoutAll }', { token: tokens[0] });
  expect(result.body.data!.logoutAll).toBe(live.length);
  for (const token of tokens) expect((await gateway.graphql(ME, { token })).status).toBe(401);
  expect(await redis.exists(aliceSessionsKey())).toBe(0);
  expect((await gateway.graphql<{ me: { email: string } }>(ME, { token: bobToken })).body.data!.me.email).toBe(bob.email);
});

it('answers logout without a session with UNAUTHENTICATED', async () => {
  const response = await gateway.graphql('mutation { logout }');
  expect(response.body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
});

it('rate-limits repeated failed logins per email and client, and lets the right password through elsewhere', async () => {
  const bob = demoAccounts[2]!;
  const attempt = (password: string) =>
    gateway.graphql(`mutation { login(email: "${bob.email}", password: "${password}") { token } }`);
  for (let failure = 1; failure <= 10; failure += 1) {
    expect((await attempt('wrong')).body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
  }
  const limited = await attempt(bob.password);
  expect(limited.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
  // The counter is per (email, client): the same account from another address is not locked out.
  const fromElsewhere = await gateway.app.graphql.apollo.executeOperation(
    { query: `mutation { login(email: "${bob.email}", password: "${bob.password}") { token } }` },
    { contextValue: gateway.app.createContext({ viewer: null, sessionToken: null }, { requestId: 'x', clientAddress: '10.9.8.7' }) },
  );
  expect(fromElsewhere.body.kind === 'single' && fromElsewhere.body.singleResult.errors).toBeFalsy();
});
