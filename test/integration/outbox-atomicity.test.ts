// Issue 4, test 2: a mutation's rows and its event are one. A failure inside the transaction (before
// or after the outbox insert) leaves no order, no outbox row and no stream entry; a failure after the
// commit and before the publish still gets the committed row's event into the stream, exactly once,
// by the relay. Never is there a stream entry without its committed row.
import { and, asc, count, eq, gt, isNull, sql } from 'drizzle-orm';
import { orders, outbox, products, type OutboxRow } from '../../src/db/schema';
import { orderCacheType, orderItemsCacheType } from '../../src/modules/orders/order.loader';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { readStreamFields } from '../support/streams';
import { waitUntil } from '../../src/testing/wait';

/** A bound on how long the relay may take to pick up a row nobody woke it for (its poll is 1 s). */
const PUBLISH_BOUND_MS = 10_000;

const PLACE_ORDER = `mutation ($items: [OrderLineInput!]!) { placeOrder(input: { items: $items }) { id status } }`;
const PAY_ORDER = 'mutation ($id: ID!) { payOrder(id: $id) { id status } }';

let gateway: TestGateway;
let aliceToken: string;
/** Set to make the next mutation fail after its commit, before its event is published. */
let isCommitFailureArmed = false;

class InjectedAfterCommitError extends Error {}

beforeAll(async () => {
  gateway = await startTestGateway({
    seed: { users: 10, products: 10, orders: 10 },
    afterCommit: () => {
      if (!isCommitFailureArmed) return;
      isCommitFailureArmed = false;
      throw new InjectedAfterCommitError('injected: the process failed after the commit');
    },
  });
  aliceToken = await gateway.login('alice@streamgate.dev', 'alice-password');
});

afterAll(async () => {
  await gateway?.stop();
});

const db = () => gateway.database.db;

/** A stream entry's id and its fields (eventId, type, aggregateType, aggregateId, event). */
type FlatEntry = Record<string, string | undefined> & { streamId: string };

async function streamEntries(): Promise<FlatEntry[]> {
  const entries = await readStreamFields(gateway.app.redis, gateway.app.keys.stream('orders'));
  return entries.map(({ streamId, fields }): FlatEntry => ({ ...fields, streamId }));
}

async function snapshot() {
  const [orderCount] = await db().select({ value: count() }).from(orders);
  const [outboxCount] = await db().select({ value: count() }).from(outbox);
  const stock = await db().select({ id: products.id, stock: products.stock }).from(products).orderBy(asc(products.id));
  return { orders: orderCount!.value, outbox: outboxCount!.value, stock, streamEntries: await streamEntries() };
}

async function setStock(productId: number, stock: number): Promise<void> {
  await db().update(products).set({ stock }).where(eq(products.id, productId));
}

async function placeOrder(items: Array<{ productId: string; quantity: number }>) {
  return gateway.graphql<{ placeOrder: { id: string; status: string } }>(PLACE_ORDER, { variables: { items }, token: aliceToken });
}

const outboxRowsAfter = (outboxId: number): Promise<OutboxRow[]> => db().select().from(outbox).where(gt(outbox.id, outboxId)).orderBy(asc(outbox.id));

async function lastOutboxId(): Promise<number> {
  const [row] = await db().select({ id: sql<number>`coalesce(max(${outbox.id}), 0)::int` }).from(outbox);
  return Number(row!.id);
}

/**
 * A mutation that succeeds returns once its event is out, and the relay publishes in outbox id order:
 * so once this one returned, an event of anything that failed before it would be in the stream too.
 */
async function placeSentinelOrder(): Promise<string> {
  const { body } = await placeOrder([{ productId: '1', quantity: 1 }]);
  expect(body.errors).toBeUndefined();
  return body.data!.placeOrder.id;
}

async function waitUntilPublished(outboxId: number): Promise<OutboxRow> {
  await waitUntil(
    async () => (await db().select({ publishedAt: outbox.publishedAt }).from(outbox).where(eq(outbox.id, outboxId)))[0]?.publishedAt != null,
    `outbox row ${outboxId} is published`,
    PUBLISH_BOUND_MS,
  );
  const [row] = await db().select().from(outbox).where(eq(outbox.id, outboxId));
  return row!;
}

/** Every entry of the orders stream has its committed outbox row and order; every row is in the stream once. */
async function expectStreamMatchesCommittedRows(): Promise<void> {
  // A mutation returns once its entry is in the stream; the relay records the stream id on the
  // row just after, so wait for that before comparing.
  await waitUntil(
    async () => (await db().select({ id: outbox.id }).from(outbox).where(and(eq(outbox.stream, 'orders'), isNull(outbox.publishedAt)))).length === 0,
    'every orders row is marked published',
    PUBLISH_BOUND_MS,
  );
  const entries = await streamEntries();
  const rows = await db().select().from(outbox).where(eq(outbox.stream, 'orders')).orderBy(asc(outbox.id));
  const rowsByEventId = new Map(rows.map((row) => [row.eventId, row]));
  const orderIds = new Set((await db().select({ id: orders.id }).from(orders)).map((order) => String(order.id)));
  for (const entry of entries) {
    expect(rowsByEventId.get(entry.eventId!)?.streamId).toBe(entry.streamId);
    expect(orderIds.has(entry.aggregateId!)).toBe(true);
  }
  expect(entries.map((entry) => entry.eventId)).toEqual(rows.map((row) => row.eventId));
}

describe('the event of a placed order', () => {
  it('says what the statement wrote: its data from the rows, the order id wherever it goes', async () => {
    await setStock(1, 5);
    await setStock(3, 5);
    const prices = new Map((await db().select({ id: products.id, priceCents: products.priceCents }).from(products)).map((row) => [row.id, row.priceCents]));
    const { body } = await placeOrder([
      { productId: '3', quantity: 1 },
      { productId: '1', quantity: 2 },
    ]);
    const orderId = Number(body.data!.placeOrder.id);
    const [row] = await db().select().from(outbox).where(and(eq(outbox.type, 'OrderPlaced'), eq(outbox.aggregateId, String(orderId))));

    expect(row!.payload).toMatchObject({
      id: row!.eventId,
      type: 'OrderPlaced',
      aggregate: { type: 'Order', id: String(orderId) },
      data: {
        orderId,
        userId: 2,
        status: 'PENDING',
        totalCents: 2 * prices.get(1)! + prices.get(3)!,
        items: [
          { productId: 1, quantity: 2, unitPriceCents: prices.get(1) },
          { productId: 3, quantity: 1, unitPriceCents: prices.get(3) },
        ],
      },
    });
    const invalidations = row!.invalidations as Array<{ name: string; keyIds: string[] }>;
    expect(JSON.stringify(invalidations)).not.toContain('new_order_id');
    for (const type of [orderCacheType, orderItemsCacheType]) {
      expect(invalidations).toContainEqual(expect.objectContaining({ name: type.name, keyIds: [String(orderId)] }));
    }
  });
});

describe('a failure inside the transaction', () => {
  it('rolls back the stock taken for the first item when the second is out of stock: no order, no event', async () => {
    await setStock(1, 5);
    await setStock(2, 0);
    const before = await snapshot();

    const { body } = await placeOrder([
      { productId: '1', quantity: 2 },
      { productId: '2', quantity: 1 },
    ]);
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['CONFLICT']);

    await expectNothingWrittenSince(before);
  });

  it('rolls back the outbox row too when the commit itself fails after the event was appended', async () => {
    await setStock(1, 5);
    // A deferred constraint trigger on the outbox runs at COMMIT, after appendEvent: the commit fails
    // the way a serialization failure or a lost connection at commit time would.
    await db().execute(sql.raw(`
      create function fail_outbox_commit() returns trigger language plpgsql as $$
      begin raise exception 'injected: the commit failed'; end $$`));
    await db().execute(sql.raw(`
      create constraint trigger fail_outbox_commit after insert on outbox
      deferrable initially deferred for each row execute function fail_outbox_commit()`));
    const before = await snapshot();
    const sequenceBefore = await outboxSequenceValue();
    try {
      const { body } = await placeOrder([{ productId: '1', quantity: 2 }]);
      expect(body.data ?? null).toBeNull();
      expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['INTERNAL_SERVER_ERROR']);
    } finally {
      await db().execute(sql.raw('drop trigger fail_outbox_commit on outbox'));
      await db().execute(sql.raw('drop function fail_outbox_commit()'));
    }

    // Sequences are not transactional: the outbox row was inserted, then rolled back with the rest.
    expect(await outboxSequenceValue()).toBe(sequenceBefore + 1);
    await expectNothingWrittenSince(before);
  });
});

/**
 * No order, outbox row or stock change since `before`, and no stream entry either: the next order
 * returns only once its own event is out, and events go out in outbox order, so its entry is then
 * the only new one.
 */
async function expectNothingWrittenSince(before: Awaited<ReturnType<typeof snapshot>>): Promise<void> {
  const after = await snapshot();
  expect(after.orders).toBe(before.orders);
  expect(after.outbox).toBe(before.outbox);
  expect(after.stock).toEqual(before.stock);

  const sentinelId = await placeSentinelOrder();
  const entries = await streamEntries();
  expect(entries.slice(0, before.streamEntries.length)).toEqual(before.streamEntries);
  expect(entries.slice(before.streamEntries.length).map((entry) => entry.aggregateId)).toEqual([sentinelId]);
  await expectStreamMatchesCommittedRows();
}

async function outboxSequenceValue(): Promise<number> {
  const [row] = await db()
    .select({ value: sql<number>`(case when is_called then last_value else 0 end)::int` })
    .from(sql`outbox_id_seq`);
  return Number(row!.value);
}

describe('a failure after the commit, before the publish', () => {
  it('answers with an error, keeps the committed order, and the relay still publishes its event exactly once', async () => {
    await setStock(1, 5);
    const baseline = await lastOutboxId();

    isCommitFailureArmed = true;
    const { body } = await placeOrder([{ productId: '1', quantity: 3 }]);
    expect(isCommitFailureArmed).toBe(false);
    expect(body.data ?? null).toBeNull();
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['INTERNAL_SERVER_ERROR']);

    const [row, ...others] = await outboxRowsAfter(baseline);
    expect(others).toEqual([]);
    expect(row).toMatchObject({ type: 'OrderPlaced', aggregateType: 'Order' });
    const [order] = await db().select().from(orders).where(eq(orders.id, Number(row!.aggregateId)));
    expect(order).toMatchObject({ userId: 2, status: 'PENDING' });
    const [product] = await db().select({ stock: products.stock }).from(products).where(eq(products.id, 1));
    expect(product!.stock).toBe(2);

    const published = await waitUntilPublished(row!.id);
    const copies = (await streamEntries()).filter((entry) => entry.eventId === row!.eventId);
    expect(copies).toEqual([expect.objectContaining({ streamId: published.streamId, type: 'OrderPlaced', aggregateId: String(order!.id) })]);
    await expectStreamMatchesCommittedRows();
  });

  it('does the same for a status change: the order is PAID and OrderPaid is in the stream once', async () => {
    const orderId = await placeSentinelOrder();
    const baseline = await lastOutboxId();

    isCommitFailureArmed = true;
    const { body } = await gateway.graphql(PAY_ORDER, { variables: { id: orderId }, token: aliceToken });
    expect(isCommitFailureArmed).toBe(false);
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['INTERNAL_SERVER_ERROR']);

    const [order] = await db().select({ status: orders.status }).from(orders).where(eq(orders.id, Number(orderId)));
    expect(order!.status).toBe('PAID');
    const [row, ...others] = await outboxRowsAfter(baseline);
    expect(others).toEqual([]);
    expect(row).toMatchObject({ type: 'OrderPaid', aggregateId: orderId });

    const published = await waitUntilPublished(row!.id);
    const copies = (await streamEntries()).filter((entry) => entry.eventId === row!.eventId);
    expect(copies.map((entry) => entry.streamId)).toEqual([published.streamId]);

    // A retry by the client is a plain illegal transition now (the first attempt did commit).
    const retry = await gateway.graphql(PAY_ORDER, { variables: { id: orderId }, token: aliceToken });
    expect(retry.body.errors?.map((error) => error.extensions?.code)).toEqual(['CONFLICT']);
    await expectStreamMatchesCommittedRows();
  });
});
