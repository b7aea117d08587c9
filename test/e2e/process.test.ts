// The gateway as an operator runs it: a real process with its own env, Redis and database. Covers
// the one-line start-up failures, a full start (seed on first start, not on the second), HTTP and
// websocket traffic, and the SIGTERM drain (websockets closed with 1001, exit code 0).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  createGatewayDatabase,
  runGatewayToExit,
  startGatewayProcess,
  type GatewayDatabase,
  type GatewayEnv,
  type GatewayLogLine,
  type GatewayProcess,
} from '../support/gateway-process';
import { postGraphQL } from '../support/graphql';
import { startOwnRedisServer, startTestRedis, type TestRedis } from '../../src/testing/redis-topology';

/** Start-up failures must not wait on anything: generous for a loaded CI machine, short for a hang. */
const failFastMs = 15_000;
const stackTraceLine = /^\s+at /m;

function stderrLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '');
}

const isSeedLine = (line: GatewayLogLine): boolean => line.msg === 'seeded demo data into the empty database';

describe('gateway process', () => {
  let testRedis: TestRedis;
  const cleanups: Array<() => unknown> = [];

  beforeEach(async () => {
    testRedis = await startTestRedis();
  });

  afterEach(async () => {
    try {
      // Newest first: gateways stop before the database they use is dropped.
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    } finally {
      await testRedis.stop();
    }
  });

  async function freshDatabase(): Promise<GatewayDatabase> {
    const database = await createGatewayDatabase();
    cleanups.push(() => database.dispose());
    return database;
  }

  async function startGateway(env: GatewayEnv): Promise<GatewayProcess> {
    const gateway = await startGatewayProcess({ env: { ...testRedis.env, ...env } });
    cleanups.push(() => gateway.kill());
    return gateway;
  }

  it('exits 1 with one line naming PORT when PORT is not a number', async () => {
    const result = await runGatewayToExit({ env: { PORT: 'abc', ...testRedis.env }, exitTimeoutMs: failFastMs });

    expect(result).toMatchObject({ code: 1, signal: null });
    const lines = stderrLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('PORT');
    expect(result.stderr).not.toMatch(stackTraceLine);
  });

  it('exits 1 with one line naming the Redis URL and how to fix it when Redis is unreachable', async () => {
    // A port a redis-server of the test's own (whatever the topology) just left is closed for certain.
    const closed = await startOwnRedisServer();
    const { url: closedUrl } = closed;
    await closed.stop();

    const result = await runGatewayToExit({ env: { REDIS_URL: closedUrl }, exitTimeoutMs: failFastMs });

    expect(result).toMatchObject({ code: 1, signal: null });
    const lines = stderrLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(closedUrl);
    expect(lines[0]).toContain('redis-server');
    expect(lines[0]).toContain('REDIS_URL');
    expect(result.stderr).not.toMatch(stackTraceLine);
  });

  it('exits 1 with one line naming DATABASE_URL when it is not a PostgreSQL URL', async () => {
    const result = await runGatewayToExit({
      env: { DATABASE_URL: 'mysql://x', ...testRedis.env },
      exitTimeoutMs: failFastMs,
    });

    expect(result).toMatchObject({ code: 1, signal: null });
    const lines = stderrLines(result.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DATABASE_URL');
    expect(result.stderr).not.toMatch(stackTraceLine);
  });

  it('seeds an empty database, serves HTTP, drains on SIGTERM, and restarts on the same data', async () => {
    const database = await freshDatabase();
    const first = await startGateway(database.env);

    expect(first.logs().find((line) => line.msg?.startsWith('Streamgate ready at'))).toMatchObject({
      url: first.url,
      database: database.kind,
    });
    expect(first.logs().some(isSeedLine)).toBe(true);

    const products = await postGraphQL<{ products: { edges: Array<{ node: { id: string; name: string } }> } }>(
      first.url,
      '{ products(first: 2) { edges { node { id name } } } }',
    );
    expect(products.status).toBe(200);
    expect(products.body.errors).toBeUndefined();
    expect(products.body.data?.products.edges).toHaveLength(2);
    for (const { node } of products.body.data!.products.edges) {
      expect(node).toEqual({ id: expect.any(String), name: expect.any(String) });
    }

    const byGet = await fetch(`${first.url}?query=${encodeURIComponent('{product(id:"1"){sku}}')}`);
    expect(byGet.status).toBe(200);
    expect(await byGet.json()).toEqual({ data: { product: { sku: 'SKU-000001' } } });

    const health = await fetch(new URL('/healthz', first.url));
    expect(health.status).toBe(200);
    const readiness = await fetch(new URL('/readyz', first.url));
    expect(readiness.status).toBe(200);
    expect(await readiness.json()).toMatchObject({ status: 'ready' });

    const login = await postGraphQL<{ login: { token: string } }>(
      first.url,
      'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }',
      { variables: { email: 'alice@streamgate.dev', password: 'alice-password' } },
    );
    expect(login.body.errors).toBeUndefined();
    const token = login.body.data!.login.token;
    expect(token).toEqual(expect.any(String));
    const me = await postGraphQL<{ me: { email: string } | null }>(first.url, '{ me { email } }', { token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ data: { me: { email: 'alice@streamgate.dev' } } });

    expect(await first.stop()).toEqual({ code: 0, signal: null });

    const second = await startGateway(database.env);
    expect(second.logs().some(isSeedLine)).toBe(false);
    expect(second.stderr()).toBe('');
    const again = await postGraphQL<{ product: { sku: string } | null }>(second.url, '{ product(id: "1") { sku } }');
    expect(again.body).toEqual({ data: { product: { sku: 'SKU-000001' } } });
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('closes open websockets with 1001 on SIGTERM and still exits 0', async () => {
    const database = await freshDatabase();
    const gateway = await startGateway(database.env);

    let onClosed!: (code: unknown) => void;
    const closedWith = new Promise<unknown>((resolve) => (onClosed = resolve));
    const client = createClient({
      url: gateway.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      on: {
        closed: (event) => onClosed(typeof event === 'object' && event !== null && 'code' in event ? event.code : event),
      },
    });
    cleanups.push(() => client.dispose());

    let onFirstTick!: (value: unknown) => void;
    const firstTick = new Promise<unknown>((resolve) => (onFirstTick = resolve));
    const subscriptionEnded = new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: 'subscription { serverTime }' },
        { next: onFirstTick, error: resolve, complete: () => resolve('completed') },
      );
    });
    expect(await firstTick).toEqual({ data: { serverTime: expect.any(String) } });

    const exit = gateway.stop();

    expect(await closedWith).toBe(1001);
    // graphql-ws hands the close event to the subscriber as the error that ended it.
    expect(await subscriptionEnded).toMatchObject({ code: 1001 });
    expect(await exit).toEqual({ code: 0, signal: null });
  });
});
