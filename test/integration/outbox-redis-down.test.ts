// Issue 4, test 3: with Redis down, mutations still commit and return after a short bounded wait,
// and their events pile up in the outbox (the backlog /readyz reports). Once Redis is back the relay
// drains it: every event in its stream exactly once, in outbox id order.
//
// Sessions live in Redis, so the mutations run through executeOperation with an admin viewer put in
// the context directly, the way the HTTP handler would after authenticating.
import assert from 'node:assert/strict';
import { asc, gt, isNotNull, sql } from 'drizzle-orm';
import { outbox } from '../../src/db/schema';
import { recordingLogger, startTestGateway, type TestGateway } from '../support/gateway';
import { serverOf } from '../../src/testing/redis-topology';
import type { OperationResult } from '../support/operations';
import { readStreamFields } from '../support/streams';
import { waitUntil } from '../../src/testing/wait';

/** How long a mutation waits for its event before returning anyway (small: Redis is down). */
const PUBLISH_WAIT_MS = 200;
/** A bound on hanging (a mutation stuck behind the dead connection), not a speed target. */
const LIVENESS_BOUND_MS = 3000;
/** The relay backs off up to 5 s between attempts while Redis is down. */
const DRAIN_BOUND_MS = 20_000;

let gateway: TestGateway;
const log = recordingLogger();
let isRedisDown = false;
let requestCount = 0;

beforeAll(async () => {
  // Its own redis-server whatever the topology: the test kills and restarts it.
  gateway = await startTestGateway({ seed: { users: 10, products: 10, orders: 10 }, ownRedisServer: true, env: { OUTBOX_PUBLISH_WAIT_MS: String(PUBLISH_WAIT_MS) }, logger: log.logger });
});

afterAll(async () => {
  if (isRedisDown) await serverOf(gateway.redis).restart();
  await gateway?.stop();
});

const db = () => gateway.database.db;

async function asAdmin<Data>(query: string, variables: Record<string, unknown>): Promise<OperationResult<Data>> {
  requestCount += 1;
  const contextValue = gateway.app.createContext(
    { viewer: { id: 1, role: 'ADMIN' }, sessionToken: null },
    { requestId: `outbox-redis-down-${requestCount}`, clientAddress: '127.0.0.1' },
  );
  const response = await gateway.app.graphql.apollo.executeOperation({ query, variables }, { contextValue });
  assert(response.body.kind === 'single');
  return response.body.singleResult as OperationResult<Data>;
}

const restock = (productId: number, quantity: number) =>
  asAdmin<{ restockProduct: { id: string; stock: number } }>('mutation ($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { id stock } }', {
    id: String(productId),
    quantity,
  });
const placeOrder = (productId: number, quantity: number) =>
  asAdmin<{ placeOrder: { id: string; status: string } }>('mutation ($items: [OrderLineInput!]!) { placeOrder(input: { items: $items }) { id status } }', {
    items: [{ productId: String(productId), quantity }],
  });
const payOrder = (orderId: string) => asAdmin<{ payOrder: { id: string; status: string } }>('mutation ($id: ID!) { payOrder(id: $id) { id status } }', { id: orderId });

async function lastOutboxId(): Promise<number> {
  const [row] = await db().select({ id: sql<number>`coalesce(max(${outbox.id}), 0)::int` }).from(outbox);
  return Number(row!.id);
}

async function readiness(): Promise<{ status: number; body: { checks: Record<string, string>; details?: { outboxBacklog?: number } } }> {
  const response = await fetch(new URL('/readyz', gateway.url));
  return { status: response.status, body: (await response.json()) as never };
}

it('commits mutations while Redis is down, then publishes every event exactly once, in outbox order, when it is back', async () => {
  // Start from an empty backlog, with the publish path known to work.
  const warmUp = await restock(1, 1);
  expect(warmUp.errors).toBeUndefined();
  await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the outbox is drained before the outage', DRAIN_BOUND_MS);
  const baseline = await lastOutboxId();

  await serverOf(gateway.redis).kill();
  isRedisDown = true;

  // Events of three aggregates, two of them with several events whose order matters.
  const mutations: Array<() => Promise<OperationResult<Record<string, { id: string }>>>> = [
    () => restock(3, 1),
    () => placeOrder(4, 1),
    () => restock(3, 2),
    () => placeOrder(4, 2),
    () => restock(3, 3),
  ];
  const placedOrderIds: string[] = [];
  let expectedBacklog = 0;
  const runAndCount = async (mutation: () => Promise<OperationResult<Record<string, { id: string }>>>) => {
    const startedAt = performance.now();
    const result = await mutation();
    const elapsedMs = performance.now() - startedAt;
    expect(result.errors).toBeUndefined();
    expect(elapsedMs).toBeLessThan(LIVENESS_BOUND_MS);
    expectedBacklog += 1;
    expect(await gateway.app.relay.backlog()).toBe(expectedBacklog);
    return result;
  };
  for (const mutation of mutations) {
    const result = await runAndCount(mutation);
    if (result.data?.placeOrder) placedOrderIds.push(result.data.placeOrder.id);
  }
  for (const orderId of placedOrderIds) {
    const paid = await runAndCount(() => payOrder(orderId));
    expect(paid.data?.payOrder).toEqual({ id: orderId, status: 'PAID' });
  }
  expect(placedOrderIds).toHaveLength(2);
  const eventCount = mutations.length + placedOrderIds.length;
  // Not silent: each mutation that returned without its event out left a warning naming its row.
  const late = log.lines.filter((line) => line.msg === 'event not published in time; the mutation returns anyway and the relay keeps trying');
  expect(late.map((line) => line.outboxId)).toEqual(Array.from({ length: eventCount }, (_, index) => baseline + 1 + index));

  const outage = await readiness();
  expect(outage.status).toBe(503);
  expect(outage.body.checks.redis).toMatch(/^down/);
  expect(outage.body.details?.outboxBacklog).toBe(eventCount);
  expect(await db().select({ id: outbox.id }).from(outbox).where(isNotNull(outbox.publishedAt)).then((rows) => rows.filter((row) => row.id > baseline))).toEqual([]);

  await serverOf(gateway.redis).restart();
  isRedisDown = false;
  await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the relay drained the outbox', DRAIN_BOUND_MS);

  const rows = await db().select().from(outbox).where(gt(outbox.id, baseline)).orderBy(asc(outbox.id));
  expect(rows.map((row) => row.type)).toEqual([
    'ProductRestocked',
    'OrderPlaced',
    'ProductRestocked',
    'OrderPlaced',
    'ProductRestocked',
    'OrderPaid',
    'OrderPaid',
  ]);
  // The restarted Redis started empty (no persistence), so each stream holds exactly what the relay
  // published since: the outage's rows of that stream, in outbox id order, each once.
  for (const stream of ['catalog', 'orders']) {
    const entries = (await readStreamFields(gateway.app.redis, gateway.app.keys.stream(stream))).map(({ streamId, fields }) => ({ streamId, eventId: fields.eventId }));
    const rowsOfStream = rows.filter((row) => row.stream === stream);
    expect(rowsOfStream.length).toBeGreaterThan(1);
    expect(entries.map((entry) => entry.eventId)).toEqual(rowsOfStream.map((row) => row.eventId));
    expect(entries.map((entry) => entry.streamId)).toEqual(rowsOfStream.map((row) => row.streamId));
  }
  // Per aggregate, the data says the same order: stock 1+1, +2, +3 for product 3.
  const stockOfProduct3 = rows.filter((row) => row.type === 'ProductRestocked').map((row) => (row.payload as { data: { stock: number } }).data.stock);
  expect(stockOfProduct3).toEqual([stockOfProduct3[0], stockOfProduct3[0]! + 2, stockOfProduct3[0]! + 5]);

  const recovered = await readiness();
  expect(recovered.status).toBe(200);
  expect(recovered.body.details?.outboxBacklog).toBe(0);
});
