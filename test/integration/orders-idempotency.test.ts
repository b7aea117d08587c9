// Idempotent placeOrder: a retried request with the same idempotencyKey returns the first order
// instead of placing another, even when the 20 "retries" all arrive at once on two replicas. Keys
// belong to a user (the same key of another user is another order), a new key is a new order, and a
// malformed key is refused before anything is written.
import type { RedisClient } from '../../src/redis/client';
import { and, eq } from 'drizzle-orm';
import { idempotencyKeys, orders, outbox } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import type { TestGateway } from '../support/gateway';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';
import { line, placeOrder, UPDATE_PRODUCT } from '../support/documents';
import { entriesOf, readStream, streamTail } from '../support/streams';
import { mutate, onlyError } from '../support/graphql';
import { productStock, writeSnapshot } from '../support/write-snapshot';

const [admin, alice, bob] = demoAccounts as [(typeof demoAccounts)[number], (typeof demoAccounts)[number], (typeof demoAccounts)[number]];
const ALICE_ID = 2;
const BOB_ID = 3;
const PRODUCT_ID = 5;
const OTHER_PRODUCT_ID = 6;
const STOCK = 100;
const DUPLICATES = 20;

let pair: TwoGateways;
let redis: RedisClient;
let aliceToken: string;
let bobToken: string;

beforeAll(async () => {
  pair = await startTwoGateways({ seed: { users: 10, products: 10, orders: 30 } });
  redis = pair.redis.connect();
  const adminToken = await pair.a.login(admin.email, admin.password);
  aliceToken = await pair.a.login(alice.email, alice.password);
  bobToken = await pair.b.login(bob.email, bob.password);
  for (const id of [PRODUCT_ID, OTHER_PRODUCT_ID]) await mutate(pair.a, UPDATE_PRODUCT, { id: String(id), input: { stock: STOCK } }, adminToken);
});

afterAll(async () => {
  redis?.disconnect();
  await pair?.stop();
});

const ORDERS_PAGE = '{ orders(first: 5) { edges { node { id status } } } }';

async function orderIdsOnPage(gateway: TestGateway, token: string): Promise<string[]> {
  const { orders: page } = await mutate<{ orders: { edges: Array<{ node: { id: string } }> } }>(gateway, ORDERS_PAGE, {}, token);
  return page.edges.map((edge) => edge.node.id);
}

async function ordersOf(userId: number) {
  return pair.database.db.select().from(orders).where(eq(orders.userId, userId));
}

describe('the same key sent 20 times at once', () => {
  const KEY = 'checkout-7f3a:attempt_1';
  const items = [line(PRODUCT_ID, 3), line(OTHER_PRODUCT_ID, 1)];
  let orderId: string;

  it('answers every request with the same order, placed once, and every answer is read back on the other replica', async () => {
    const ordersBefore = await ordersOf(ALICE_ID);
    const streamStart = await streamTail(redis, pair.redis.keys.stream('orders'));
    // Both replicas have alice's first page cached. A duplicate that waited for the first attempt's
    // commit must still not answer before that attempt's OrderPlaced is published (and the page
    // invalidated), or the other replica shows the page without the order it just answered.
    await orderIdsOnPage(pair.a, aliceToken);
    await orderIdsOnPage(pair.b, aliceToken);

    const staleReads: string[] = [];
    const answers = await Promise.all(
      Array.from({ length: DUPLICATES }, async (_, i) => {
        const [sentTo, readOn] = i % 2 === 0 ? [pair.a, pair.b] : [pair.b, pair.a];
        const response = await placeOrder(sentTo, aliceToken, items, KEY);
        const id = response.body.data?.placeOrder.id;
        if (id && !(await orderIdsOnPage(readOn, aliceToken)).includes(id)) staleReads.push(`answer ${i}: order ${id} missing on the other replica`);
        return response;
      }),
    );

    for (const response of answers) {
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
    }
    const ids = new Set(answers.map((response) => response.body.data!.placeOrder.id));
    expect(ids.size).toBe(1);
    orderId = [...ids][0]!;
    const first = answers[0]!.body.data!.placeOrder;
    for (const response of answers) expect(response.body.data!.placeOrder).toEqual(first);
    expect(staleReads).toEqual([]);

    const ordersAfter = await ordersOf(ALICE_ID);
    expect(ordersAfter).toHaveLength(ordersBefore.length + 1);
    expect(ordersAfter.map((row) => String(row.id))).toContain(orderId);
    expect(await productStock(pair.database.db, PRODUCT_ID)).toBe(STOCK - 3);
    expect(await productStock(pair.database.db, OTHER_PRODUCT_ID)).toBe(STOCK - 1);

    const rows = await pair.database.db.select().from(outbox).where(and(eq(outbox.type, 'OrderPlaced'), eq(outbox.aggregateId, orderId)));
    expect(rows).toHaveLength(1);
    const entries = await readStream(redis, pair.redis.keys.stream('orders'), streamStart);
    expect(entries.map((entry) => [entry.event.type, entry.event.aggregate.id])).toEqual([['OrderPlaced', orderId]]);

    const [stored] = await pair.database.db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.userId, ALICE_ID), eq(idempotencyKeys.key, KEY)));
    expect(stored).toMatchObject({ operation: 'placeOrder', response: { orderId: Number(orderId) } });
  });

  it('answers a later retry with the same order too, writing nothing', async () => {
    const before = await writeSnapshot(pair.database.db, redis, pair.redis.keys);
    for (const gateway of [pair.a, pair.b]) {
      const retry = await placeOrder(gateway, aliceToken, items, KEY);
      expect(retry.body.errors).toBeUndefined();
      expect(retry.body.data!.placeOrder).toMatchObject({ id: orderId, status: 'PENDING' });
    }
    expect(await writeSnapshot(pair.database.db, redis, pair.redis.keys)).toEqual(before);
  });

  it('places another order for another key', async () => {
    const streamStart = await streamTail(redis, pair.redis.keys.stream('orders'));
    const other = await placeOrder(pair.b, aliceToken, items, 'checkout-7f3a:attempt_2');
    expect(other.body.errors).toBeUndefined();
    const otherId = other.body.data!.placeOrder.id;
    expect(otherId).not.toBe(orderId);
    expect(await productStock(pair.database.db, PRODUCT_ID)).toBe(STOCK - 6);
    const entries = await readStream(redis, pair.redis.keys.stream('orders'), streamStart);
    expect(entries.map((entry) => [entry.event.type, entry.event.aggregate.id])).toEqual([['OrderPlaced', otherId]]);
  });

  it("treats another user's identical key as theirs: bob's 20 concurrent requests place one order of bob's", async () => {
    const streamStart = await streamTail(redis, pair.redis.keys.stream('orders'));
    const bobsBefore = await ordersOf(BOB_ID);
    const answers = await Promise.all(
      Array.from({ length: DUPLICATES }, (_, i) => placeOrder(i % 2 ? pair.a : pair.b, bobToken, [line(PRODUCT_ID, 2)], KEY)),
    );
    for (const response of answers) expect(response.body.errors).toBeUndefined();
    const ids = new Set(answers.map((response) => response.body.data!.placeOrder.id));
    expect(ids.size).toBe(1);
    const bobsOrderId = [...ids][0]!;
    expect(bobsOrderId).not.toBe(orderId);

    const bobsAfter = await ordersOf(BOB_ID);
    expect(bobsAfter).toHaveLength(bobsBefore.length + 1);
    expect(bobsAfter.find((row) => String(row.id) === bobsOrderId)).toMatchObject({ userId: BOB_ID, status: 'PENDING' });
    expect(await productStock(pair.database.db, PRODUCT_ID)).toBe(STOCK - 8);
    const entries = await readStream(redis, pair.redis.keys.stream('orders'), streamStart);
    expect(entriesOf(entries, 'OrderPlaced', bobsOrderId)).toHaveLength(1);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.event.data).toMatchObject({ userId: BOB_ID, items: [{ productId: PRODUCT_ID, quantity: 2 }] });

    // Alice's key still answers with alice's order.
    const alicesRetry = await placeOrder(pair.a, aliceToken, items, KEY);
    expect(alicesRetry.body.data!.placeOrder.id).toBe(orderId);
  });
});

describe('a malformed idempotencyKey', () => {
  it.each([
    ['an empty key', ''],
    ['a key with spaces', 'my key'],
    ['a key of 201 characters', 'k'.repeat(201)],
    ['a key with non-ASCII letters', 'schlüssel'],
    ['a key with a slash', 'orders/1'],
  ])('is refused with BAD_USER_INPUT (%s), writing nothing', async (_case, key) => {
    const before = await writeSnapshot(pair.database.db, redis, pair.redis.keys);
    const response = await placeOrder(pair.a, aliceToken, [line(PRODUCT_ID)], key);
    expect(response.body.data ?? null).toBeNull();
    const error = onlyError(response);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', extensions: { argumentName: 'idempotencyKey' } });
    expect(error.message).toMatch(/idempotencyKey/);
    expect(await writeSnapshot(pair.database.db, redis, pair.redis.keys)).toEqual(before);
  });

  it('accepts the longest well-formed key (200 characters)', async () => {
    const response = await placeOrder(pair.b, aliceToken, [line(PRODUCT_ID)], `${'K'.repeat(199)}.`);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.placeOrder.status).toBe('PENDING');
  });
});
