// graphql-ws on the same URL as HTTP, with a real client over a real socket.
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import { demoAccounts } from '../../src/db/seed';
import { startTestGateway, type TestGateway } from '../support/gateway';

let gateway: TestGateway;
const clients: Client[] = [];

beforeAll(async () => {
  gateway = await startTestGateway({ env: { GRAPHQL_MAX_DEPTH: '6' } });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.dispose()));
  await gateway?.stop();
});

function connect(connectionParams: Record<string, unknown> = {}, onClosed?: (event: unknown) => void): Client {
  const client = createClient({
    url: gateway.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: false,
    on: onClosed ? { closed: onClosed } : undefined,
    onNonLazyError: () => undefined,
  });
  clients.push(client);
  return client;
}

/** Runs a single-result operation over the socket. */
function request<Data>(client: Client, query: string): Promise<FormattedExecutionResult<Data, unknown>> {
  return new Promise((resolve, reject) => {
    let result: FormattedExecutionResult<Data, unknown> | undefined;
    client.subscribe<Data>({ query }, {
      next: (value) => (result = value),
      error: reject,
      complete: () => (result ? resolve(result) : reject(new Error('completed without a result'))),
    });
  });
}

it('streams serverTime: one value at once, then one per second, until the client stops', async () => {
  const client = connect();
  const iterator = client.iterate<{ serverTime: string }>({ query: 'subscription { serverTime }' });
  const first = await iterator.next();
  const second = await iterator.next();
  const firstTime = Date.parse(first.value!.data!.serverTime);
  const secondTime = Date.parse(second.value!.data!.serverTime);
  expect(Math.abs(Date.now() - firstTime)).toBeLessThan(60_000);
  expect(secondTime - firstTime).toBeGreaterThanOrEqual(900);
  await iterator.return!();
});

it('runs queries with the session from connectionParams.authorization', async () => {
  const alice = demoAccounts[1]!;
  const token = await gateway.login(alice.email, alice.password);
  const client = connect({ authorization: `Bearer ${token}` });
  const result = await request<{ me: { email: string } }>(client, '{ me { email } }');
  expect(result.data!.me.email).toBe(alice.email);
  const anonymous = await request<{ me: unknown }>(connect(), '{ me { email } }');
  expect(anonymous.data!.me).toBeNull();
});

it('closes the socket with 4403 for a bad token', async () => {
  const closed = new Promise<{ code: number }>((resolve) => {
    connect({ authorization: 'Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, (event) => resolve(event as { code: number }));
  });
  expect((await closed).code).toBe(4403);
});

it('answers invalid operations with errors and keeps the socket open', async () => {
  const client = connect();
  await expect(request(client, '{ products { edges { node { colour } } } }')).rejects.toEqual([
    expect.objectContaining({ message: expect.stringMatching(/colour/) }),
  ]);
  await expect(request(client, '{ products { ')).rejects.toEqual([
    expect.objectContaining({ message: expect.stringMatching(/Syntax Error/) }),
  ]);
  await expect(
    request(client, '{ orders { edges { node { user { orders { edges { node { user { name } } } } } } } } }'),
  ).rejects.toEqual([expect.objectContaining({ message: expect.stringMatching(/depth limit of 6/) })]);
  const stillServing = await request<{ product: { sku: string } }>(client, '{ product(id: "1") { sku } }');
  expect(stillServing.data!.product.sku).toBe('SKU-000001');
});

it('returns resolver errors with their codes, as over HTTP', async () => {
  const result = await request(connect(), '{ products(first: 1000) { edges { cursor } } }');
  expect(result.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
});
