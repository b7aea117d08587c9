// Live queries (`query @live`) on two replicas sharing one Redis and one database, over real
// websockets (graphql-ws's client) and SSE: a write on replica A refreshes a live query on replica
// B; an unrelated write executes nothing, nor does a stock change for a query of a product's name;
// a burst of writes is coalesced into a few executions, the last write reflected; identical live
// queries execute once per change; @live(patch: true) gets JSON patches after the first result; a
// revoked session ends an authenticated live query; a query that cannot be live is refused; over plain HTTP @live is one result.
// Executions are counted by replica B's store (app.liveQueries.executionCount).
import type { applyJSONPatch as ApplyJSONPatch } from '@n1ru4l/graphql-live-query-patch-json-patch' with { 'resolution-mode': 'import' };
import { createClient, type Client } from 'graphql-ws';
import type { FormattedExecutionResult } from 'graphql';
import WebSocket from 'ws';
import { demoAccounts } from '../../src/db/seed';
import { placeOrder, RESTOCK_PRODUCT, UPDATE_PRODUCT } from '../support/documents';
import { login, mutate } from '../support/graphql';
import { openSse, type SseResponse } from '../support/sse-client';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';
import { waitUntil } from '../../src/testing/wait';

// The client side of @live(patch: true), as a browser app would use it. Its typings are marked ESM
// though it ships CommonJS: required, typed through a type-only import.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { applyJSONPatch } = require('@n1ru4l/graphql-live-query-patch-json-patch') as { applyJSONPatch: typeof ApplyJSONPatch };

type ExecutionResult = FormattedExecutionResult<Record<string, unknown>, unknown>;

const [admin, alice, bob] = demoAccounts as [(typeof demoAccounts)[number], (typeof demoAccounts)[number], (typeof demoAccounts)[number]];
const liveProduct = (id: string, throttle = '') => `query ${throttle ? `@live(throttle: ${throttle})` : '@live'} { product(id: "${id}") { id stock } }`;

let pair: TwoGateways;
let adminToken: string;
const clients: LiveClient[] = [];
const streams: SseResponse[] = [];

beforeAll(async () => {
  // Throttle 0 by default: every invalidation executes at once, so an execution an unrelated write
  // caused could not hide inside a window. The burst test asks for a window with @live(throttle:).
  pair = await startTwoGateways({ seed: { users: 3, products: 8, orders: 0 }, env: { LIVE_QUERY_THROTTLE_MS: '0' } });
  adminToken = await login(pair.a, admin.email, admin.password);
});

// Each test's clients leave at its end: the store must then drop their queries.
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((client) => client.dispose()));
  for (const stream of streams.splice(0)) stream.close();
  await waitUntil(async () => pair.b.app.liveQueries.queryCount === 0, 'every live query is dropped with its clients');
});

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.dispose()));
  for (const stream of streams) stream.close();
  await pair?.stop();
});

interface LiveClient {
  results: ExecutionResult[];
  errors: unknown[];
  closeCodes: number[];
  waitForResults(count: number): Promise<ExecutionResult[]>;
  dispose(): Promise<void>;
}

/** A graphql-ws client running one operation, collecting its results. */
function live(url: string, query: string, token?: string): LiveClient {
  const results: ExecutionResult[] = [];
  const errors: unknown[] = [];
  const closeCodes: number[] = [];
  const client: Client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    on: { closed: (event) => void closeCodes.push((event as { code: number }).code) },
  });
  const unsubscribe = client.subscribe({ query }, { next: (result) => void results.push(result), error: (error) => void errors.push(error), complete: () => undefined });
  const handle: LiveClient = {
    results,
    errors,
    closeCodes,
    async waitForResults(count) {
      await waitUntil(async () => results.length >= count || errors.length > 0, `${count} results`, 15_000, 5);
      if (results.length < count) throw new Error(`failed: ${JSON.stringify(errors)}`);
      return results;
    },
    async dispose() {
      unsubscribe();
      await client.dispose();
    },
  };
  clients.push(handle);
  return handle;
}

const restock = (id: string, quantity = 1) => mutate(pair.a, RESTOCK_PRODUCT, { id, quantity }, adminToken);
const stockIn = (result: ExecutionResult | undefined) => (result?.data?.product as { stock: number } | undefined)?.stock;
const executions = () => pair.b.app.liveQueries.executionCount;

it('refreshes a live query on replica B after a write on replica A; an unrelated write executes nothing', async () => {
  const client = live(pair.b.wsUrl, liveProduct('1'));
  const [initial] = await client.waitForResults(1);
  const stock = stockIn(initial)!;
  expect(initial!.data).toEqual({ product: { id: '1', stock } });

  await restock('1');
  const [, refreshed] = await client.waitForResults(2);
  expect(stockIn(refreshed)).toBe(stock + 1);

  // B hears the invalidations in publish order on one connection: once the related write's result
  // is here, the unrelated one was heard before it. It caused no execution and no message.
  const before = executions();
  await restock('2');
  await restock('1');
  const results = await client.waitForResults(3);
  expect(stockIn(results[2])).toBe(stock + 2);
  expect(results).toHaveLength(3);
  expect(executions() - before).toBe(1);
});

it("refreshes a viewer's live order list when she places an order on the other replica, and not for another user's order", async () => {
  const [aliceToken, bobToken] = [await login(pair.a, alice.email, alice.password), await login(pair.a, bob.email, bob.password)];
  await restock('6', 100);
  // Its items: the new order's items are invalidated by the same write, in the same message.
  const client = live(pair.b.wsUrl, 'query @live { orders(first: 20) { edges { node { id status items { quantity product { name } } } } } }', aliceToken);
  const [initial] = await client.waitForResults(1);
  const idsIn = (result: ExecutionResult | undefined) => (result?.data?.orders as { edges: Array<{ node: { id: string } }> }).edges.map((edge) => edge.node.id);
  const before = executions();
  await placeOrder(pair.a, bobToken, [{ productId: '6', quantity: 1 }]);
  const placed = await placeOrder(pair.a, aliceToken, [{ productId: '6', quantity: 1 }]);
  const orderId = (placed.body.data!.placeOrder as { id: string }).id;
  const [, refreshed] = await client.waitForResults(2);
  expect(idsIn(refreshed)).toEqual([orderId, ...idsIn(initial)]);
  // Bob's order was heard first (one connection, publish order) and executed nothing.
  expect(executions() - before).toBe(1);
});

it("leaves a live query of a product's name and price alone when only its stock changes, and refreshes it when its price does", async () => {
  const nameClient = live(pair.b.wsUrl, 'query @live { product(id: "4") { id name priceCents } }');
  const stockClient = live(pair.b.wsUrl, liveProduct('4'));
  const [initial] = await nameClient.waitForResults(1);
  const [stockInitial] = await stockClient.waitForResults(1);

  // The stock query's refresh shows B heard the restock's invalidation; the name query ran not.
  const before = executions();
  await restock('4');
  const [, restocked] = await stockClient.waitForResults(2);
  expect(stockIn(restocked)).toBe(stockIn(stockInitial)! + 1);
  expect(executions() - before).toBe(1);

  const priceCents = (initial!.data!.product as { priceCents: number }).priceCents + 1;
  await mutate(pair.a, UPDATE_PRODUCT, { id: '4', input: { priceCents } }, adminToken);
  const [, repriced] = await nameClient.waitForResults(2);
  expect(repriced!.data).toEqual({ product: { ...(initial!.data!.product as object), priceCents } });
});

it('sends a client that asks with @live(patch: true) the first result whole, then JSON patches its client library applies', async () => {
  const plain = live(pair.b.wsUrl, 'query @live { product(id: "5") { id name stock } }');
  const patched = live(pair.b.wsUrl, 'query @live(patch: true) { product(id: "5") { id name stock } }');
  const [first] = await patched.waitForResults(1);
  const [initial] = await plain.waitForResults(1);
  expect(first).toEqual({ ...initial, revision: 1 });

  await restock('5');
  const [, second] = await patched.waitForResults(2);
  const [, refreshed] = await plain.waitForResults(2);
  const stock = stockIn(initial)!;
  expect(second).toEqual({ revision: 2, patch: [{ op: 'replace', path: '/product/stock', value: stock + 1 }] });
  const { patch } = second as unknown as { patch: Parameters<typeof applyJSONPatch>[1] };
  expect(applyJSONPatch(first!.data as Record<string, unknown>, patch)).toEqual(refreshed!.data);
});

it('coalesces a burst of 50 writes into far fewer executions, and the last result reflects the last write', async () => {
  const client = live(pair.b.wsUrl, liveProduct('3', '200'));
  const [initial] = await client.waitForResults(1);
  const stock = stockIn(initial)!;
  const before = executions();
  const started = Date.now();
  await Promise.all(Array.from({ length: 50 }, () => restock('3')));
  await waitUntil(async () => stockIn(client.results.at(-1)) === stock + 50, 'the result after the 50th write', 15_000, 5);
  const burstExecutions = executions() - before;
  expect(burstExecutions).toBeGreaterThanOrEqual(1);
  // At most one execution per 200 ms window the burst spanned (a loaded machine spreads the 50
  // writes over more windows), plus the edges; and far fewer than one per write either way.
  const windows = Math.ceil((Date.now() - started) / 200);
  expect(burstExecutions).toBeLessThanOrEqual(Math.min(windows + 2, 25));
  expect(client.results.length - 1).toBeLessThanOrEqual(burstExecutions);
});

it('executes identical live queries once per change and sends the result to both', async () => {
  const first = live(pair.b.wsUrl, liveProduct('4'));
  const second = live(pair.b.wsUrl, liveProduct('4'));
  const [initial] = await first.waitForResults(1);
  await second.waitForResults(1);
  expect(pair.b.app.liveQueries.queryCount).toBe(1);
  expect(pair.b.app.liveQueries.subscriberCount).toBe(2);
  const before = executions();
  await restock('4');
  await first.waitForResults(2);
  await second.waitForResults(2);
  expect(stockIn(first.results[1])).toBe(stockIn(initial)! + 1);
  expect(second.results[1]).toEqual(first.results[1]);
  expect(executions() - before).toBe(1);
  await first.dispose();
  await waitUntil(async () => pair.b.app.liveQueries.subscriberCount === 1, 'the first client left');
  expect(pair.b.app.liveQueries.queryCount).toBe(1);
});

it('streams a live query over SSE, refreshed by a write on the other replica', async () => {
  const stream = await openSse(pair.b.url, { query: liveProduct('5') });
  streams.push(stream);
  expect(stream.status).toBe(200);
  await stream.waitForNext(1);
  const stock = stockIn(stream.results()[0] as ExecutionResult)!;
  await restock('5', 3);
  await stream.waitForNext(2);
  expect(stream.results()[1]).toEqual({ data: { product: { id: '5', stock: stock + 3 } } });
  stream.close();
});

it('ends an authenticated live query when its session is revoked on the other replica (websocket and SSE)', async () => {
  const token = await login(pair.a, alice.email, alice.password);
  const query = 'query @live { me { id email } }';
  const client = live(pair.b.wsUrl, query, token);
  const stream = await openSse(pair.b.url, { query, method: 'POST', token });
  streams.push(stream);
  expect((await client.waitForResults(1))[0]!.data).toEqual({ me: { id: expect.any(String), email: alice.email } });
  await stream.waitForNext(1);

  expect(await mutate<{ logout: boolean }>(pair.a, 'mutation { logout }', {}, token)).toEqual({ logout: true });
  await waitUntil(async () => client.closeCodes.length > 0, 'the websocket closes');
  expect(client.closeCodes).toEqual([4403]);
  await stream.waitForEnd();
  expect(stream.results().at(-1)!.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  await waitUntil(async () => pair.b.app.liveQueries.subscriberCount === 0, 'the live query is dropped');
});

it('refuses a live query whose root fields are not all cacheable, and answers @live over plain HTTP once', async () => {
  const refused = live(pair.b.wsUrl, 'query @live { topProducts(limit: 3) { __typename } }');
  await waitUntil(async () => refused.errors.length > 0, 'the refusal');
  expect(refused.errors).toEqual([
    [{ message: 'This query cannot be live: only fields read through the cache can be, not "topProducts".', extensions: { code: 'BAD_REQUEST' } }],
  ]);

  const response = await pair.b.graphql(liveProduct('1'));
  expect(response.status).toBe(200);
  expect(response.body.data).toEqual({ product: { id: '1', stock: expect.any(Number) } });
});
