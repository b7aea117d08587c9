// Rejected writes: bad quantities, unknown or malformed products, empty and oversized orders, stock
// that is short on a later line, illegal status transitions, someone else's order, the wrong role,
// no session. Each is one clear error with the right extensions.code, and nothing is written: not a
// row, not a stock unit, not an outbox row, not a stream entry (even when an earlier line of the same
// order was in stock).
import type { RedisClient } from '../../src/redis/client';
import { inArray, sql } from 'drizzle-orm';
import { products } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { CANCEL_ORDER, line, type LineInput, type OrderData, PAY_ORDER, PLACE_ORDER, placeOrder, RESTOCK_PRODUCT, SHIP_ORDER } from '../support/documents';
import { mutate, onlyError } from '../support/graphql';
import { writeSnapshot } from '../support/write-snapshot';

const [admin, alice, bob] = demoAccounts as [(typeof demoAccounts)[number], (typeof demoAccounts)[number], (typeof demoAccounts)[number]];
const IN_STOCK = 1;
const SOLD_OUT = 2;
const FIVE_LEFT = 4;
const STOCK = 2000;
const UNKNOWN_ID = 999_999;

let gateway: TestGateway;
let redis: RedisClient;
const tokens: Record<'admin' | 'alice' | 'bob', string> = { admin: '', alice: '', bob: '' };
/** Alice's orders, one in each status. */
const aliceOrders = { PENDING: '', PAID: '', SHIPPED: '', CANCELLED: '' };

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 60, orders: 0 } });
  redis = gateway.redis.connect();
  // Before anything reads (and caches) a product.
  await gateway.database.db.update(products).set({ stock: STOCK });
  await gateway.database.db.update(products).set({ stock: 0 }).where(inArray(products.id, [SOLD_OUT]));
  await gateway.database.db.update(products).set({ stock: 5 }).where(inArray(products.id, [FIVE_LEFT]));
  tokens.admin = await gateway.login(admin.email, admin.password);
  tokens.alice = await gateway.login(alice.email, alice.password);
  tokens.bob = await gateway.login(bob.email, bob.password);

  const place = async () =>
    (await mutate<{ placeOrder: OrderData }>(gateway, PLACE_ORDER, { input: { items: [line(IN_STOCK, 2)] } }, tokens.alice)).placeOrder.id;
  aliceOrders.PENDING = await place();
  aliceOrders.PAID = await place();
  await mutate(gateway, PAY_ORDER, { id: aliceOrders.PAID }, tokens.alice);
  aliceOrders.SHIPPED = await place();
  await mutate(gateway, PAY_ORDER, { id: aliceOrders.SHIPPED }, tokens.alice);
  await mutate(gateway, SHIP_ORDER, { id: aliceOrders.SHIPPED }, tokens.admin);
  aliceOrders.CANCELLED = await place();
  await mutate(gateway, CANCEL_ORDER, { id: aliceOrders.CANCELLED }, tokens.alice);
});

afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
});

type Who = keyof typeof tokens | 'anonymous';
const tokenOf = (who: Who) => (who === 'anonymous' ? undefined : tokens[who]);

interface Expected {
  code: string;
  message: RegExp;
  extensions?: Record<string, unknown>;
}

/** Sends the operation, expects exactly the error described, and that nothing at all was written. */
async function expectRejected(query: string, variables: Record<string, unknown>, who: Who, expected: Expected): Promise<void> {
  const before = await writeSnapshot(gateway.database.db, redis, gateway.redis.keys);
  const response = await gateway.graphql(query, { variables, token: tokenOf(who) });
  expect(response.body.data ?? null).toBeNull();
  const error = onlyError(response);
  expect(error.code).toBe(expected.code);
  expect(error.message).toMatch(expected.message);
  if (expected.extensions) expect(error.extensions).toMatchObject(expected.extensions);
  expect(await writeSnapshot(gateway.database.db, redis, gateway.redis.keys)).toEqual(before);
}

const lines = (count: number): LineInput[] => Array.from({ length: count }, (_, i) => line(10 + i));

describe('placeOrder refuses', () => {
  const badQuantity: Expected = { code: 'BAD_USER_INPUT', message: /quantity.*1 to 1000/, extensions: { argumentName: 'quantity' } };
  const badProductId: Expected = { code: 'BAD_USER_INPUT', message: /productId.*positive integer id/, extensions: { argumentName: 'productId' } };
  const unknownProduct: Expected = {
    code: 'BAD_USER_INPUT',
    message: new RegExp(`Product ${UNKNOWN_ID} does not exist`),
    extensions: { argumentName: 'items', productId: UNKNOWN_ID },
  };

  it.each<[string, LineInput[], Expected]>([
    ['a zero quantity', [line(IN_STOCK, 0)], badQuantity],
    ['a negative quantity', [line(IN_STOCK, -3)], badQuantity],
    ['a quantity above 1000', [line(IN_STOCK, 1001)], badQuantity],
    ['a negative quantity after a valid line', [line(IN_STOCK, 1), line(3, -1)], badQuantity],
    ['the same product twice, 1001 units together', [line(IN_STOCK, 600), line(IN_STOCK, 401)], badQuantity],
    ['an unknown product', [line(UNKNOWN_ID)], unknownProduct],
    ['an unknown product after a line that took its stock', [line(IN_STOCK, 3), line(UNKNOWN_ID)], unknownProduct],
    ['a malformed product id', [line('abc')], badProductId],
    ['product id 0', [line('0')], badProductId],
    ['a negative product id', [line('-1')], badProductId],
    ['an empty product id', [line('')], badProductId],
    ['a product id beyond the id range', [line('2147483648')], badProductId],
    ['an empty item list', [], { code: 'BAD_USER_INPUT', message: /at least one item/, extensions: { argumentName: 'items' } }],
    ['51 lines', lines(51), { code: 'BAD_USER_INPUT', message: /at most 50 items/, extensions: { argumentName: 'items' } }],
    [
      'a sold-out product after a line that took its stock',
      [line(IN_STOCK, 3), line(SOLD_OUT, 1)],
      { code: 'CONFLICT', message: new RegExp(`Only 0 of product ${SOLD_OUT} in stock`), extensions: { productId: SOLD_OUT, available: 0 } },
    ],
    [
      'more units than are in stock',
      [line(IN_STOCK, 1), line(FIVE_LEFT, 6)],
      { code: 'CONFLICT', message: new RegExp(`Only 5 of product ${FIVE_LEFT} in stock`), extensions: { productId: FIVE_LEFT, available: 5 } },
    ],
  ])('%s', async (_case, items, expected) => {
    await expectRejected(PLACE_ORDER, { input: { items } }, 'alice', expected);
  });

  it.each<[string, unknown]>([
    ['a quantity beyond a GraphQL Int', 2_147_483_648],
    ['a fractional quantity', 2.5],
    ['a quantity that is a string', 'three'],
  ])('%s (BAD_USER_INPUT from the schema)', async (_case, quantity) => {
    await expectRejected(PLACE_ORDER, { input: { items: [{ productId: String(IN_STOCK), quantity }] } }, 'alice', {
      code: 'BAD_USER_INPUT',
      message: /quantity/,
    });
  });

  it('an anonymous request (UNAUTHENTICATED)', async () => {
    await expectRejected(PLACE_ORDER, { input: { items: [line(IN_STOCK)] } }, 'anonymous', { code: 'UNAUTHENTICATED', message: /logged in/ });
  });

  it('nothing at the limits: 50 lines and 1000 units of one product are accepted', async () => {
    const fifty = await placeOrder(gateway, tokens.alice, lines(50));
    expect(fifty.body.errors).toBeUndefined();
    const thousand = await placeOrder(gateway, tokens.alice, [line(IN_STOCK, 400), line(IN_STOCK, 600)]);
    expect(thousand.body.errors).toBeUndefined();
    const [row] = await gateway.database.db
      .select({ stock: products.stock })
      .from(products)
      .where(sql`${products.id} = ${IN_STOCK}`);
    // 4 orders of 2 in beforeAll, one of them cancelled, then these 1000.
    expect(row!.stock).toBe(STOCK - 3 * 2 - 1000);
  });
});

describe('order transitions refuse', () => {
  const illegal = (from: keyof typeof aliceOrders, to: string): Expected => ({
    code: 'CONFLICT',
    message: new RegExp(`is ${from}; it cannot become ${to}`),
    extensions: { status: from },
  });

  it.each<[string, string, keyof typeof aliceOrders, Who, Expected]>([
    ['shipping a PENDING order', SHIP_ORDER, 'PENDING', 'admin', illegal('PENDING', 'SHIPPED')],
    ['shipping a CANCELLED order', SHIP_ORDER, 'CANCELLED', 'admin', illegal('CANCELLED', 'SHIPPED')],
    ['shipping a SHIPPED order again', SHIP_ORDER, 'SHIPPED', 'admin', illegal('SHIPPED', 'SHIPPED')],
    ['paying a CANCELLED order', PAY_ORDER, 'CANCELLED', 'alice', illegal('CANCELLED', 'PAID')],
    ['paying a PAID order again', PAY_ORDER, 'PAID', 'alice', illegal('PAID', 'PAID')],
    ['paying a SHIPPED order', PAY_ORDER, 'SHIPPED', 'alice', illegal('SHIPPED', 'PAID')],
    ['cancelling a SHIPPED order', CANCEL_ORDER, 'SHIPPED', 'alice', illegal('SHIPPED', 'CANCELLED')],
    ['cancelling a SHIPPED order, as an admin', CANCEL_ORDER, 'SHIPPED', 'admin', illegal('SHIPPED', 'CANCELLED')],
    ['cancelling a CANCELLED order again (no second restock)', CANCEL_ORDER, 'CANCELLED', 'alice', illegal('CANCELLED', 'CANCELLED')],
  ])('%s (CONFLICT)', async (_case, query, status, who, expected) => {
    await expectRejected(query, { id: aliceOrders[status] }, who, expected);
  });

  const notFound = (id: string | number): Expected => ({ code: 'NOT_FOUND', message: new RegExp(`^Order ${id} was not found\\.$`) });

  it.each<[string, string, keyof typeof aliceOrders]>([
    ["paying someone else's PENDING order", PAY_ORDER, 'PENDING'],
    ["cancelling someone else's PENDING order", CANCEL_ORDER, 'PENDING'],
    ["cancelling someone else's PAID order", CANCEL_ORDER, 'PAID'],
    ["paying someone else's CANCELLED order (no status leaked)", PAY_ORDER, 'CANCELLED'],
  ])('%s: NOT_FOUND, exactly as for a missing id', async (_case, query, status) => {
    const id = aliceOrders[status];
    await expectRejected(query, { id }, 'bob', notFound(id));
    const missing = await gateway.graphql(query, { variables: { id: String(UNKNOWN_ID) }, token: tokens.bob });
    const foreign = await gateway.graphql(query, { variables: { id }, token: tokens.bob });
    const shape = (response: typeof missing, orderId: string | number) => {
      const { message, extensions } = onlyError(response);
      return { message: message.replace(String(orderId), '<id>'), extensions, status: response.status };
    };
    expect(shape(foreign, id)).toEqual(shape(missing, UNKNOWN_ID));
  });

  it.each<[string, string, Who]>([
    ['paying a missing order', PAY_ORDER, 'alice'],
    ['cancelling a missing order', CANCEL_ORDER, 'alice'],
    ['shipping a missing order, as an admin', SHIP_ORDER, 'admin'],
    ['cancelling a missing order, as an admin', CANCEL_ORDER, 'admin'],
  ])('%s (NOT_FOUND)', async (_case, query, who) => {
    await expectRejected(query, { id: String(UNKNOWN_ID) }, who, notFound(UNKNOWN_ID));
  });

  it.each<[string, string, string, Who, Expected]>([
    ['a customer shipping their own PAID order', SHIP_ORDER, 'PAID', 'alice', { code: 'FORBIDDEN', message: /not allowed|admin/i }],
    ["a customer shipping someone else's order", SHIP_ORDER, 'PAID', 'bob', { code: 'FORBIDDEN', message: /not allowed|admin/i }],
    ['an anonymous payOrder', PAY_ORDER, 'PENDING', 'anonymous', { code: 'UNAUTHENTICATED', message: /logged in/ }],
    ['an anonymous cancelOrder', CANCEL_ORDER, 'PENDING', 'anonymous', { code: 'UNAUTHENTICATED', message: /logged in/ }],
    ['an anonymous shipOrder', SHIP_ORDER, 'PAID', 'anonymous', { code: 'UNAUTHENTICATED', message: /logged in/ }],
  ])('%s', async (_case, query, status, who, expected) => {
    await expectRejected(query, { id: aliceOrders[status as keyof typeof aliceOrders] }, who, expected);
  });

  it.each([['abc'], ['0'], ['-4'], ['1e3']])('a malformed order id %j (BAD_USER_INPUT)', async (id) => {
    for (const query of [PAY_ORDER, CANCEL_ORDER]) {
      await expectRejected(query, { id }, 'alice', { code: 'BAD_USER_INPUT', message: /positive integer id/, extensions: { argumentName: 'id' } });
    }
    await expectRejected(SHIP_ORDER, { id }, 'admin', { code: 'BAD_USER_INPUT', message: /positive integer id/, extensions: { argumentName: 'id' } });
  });
});

describe('restockProduct refuses', () => {
  it.each<[string, string, number, Who, Expected]>([
    ['a zero quantity', String(IN_STOCK), 0, 'admin', { code: 'BAD_USER_INPUT', message: /quantity/, extensions: { argumentName: 'quantity' } }],
    ['a negative quantity', String(IN_STOCK), -5, 'admin', { code: 'BAD_USER_INPUT', message: /quantity/, extensions: { argumentName: 'quantity' } }],
    ['stock beyond the maximum', String(IN_STOCK), 999_999_999, 'admin', { code: 'BAD_USER_INPUT', message: /cannot exceed/ }],
    ['an unknown product', String(UNKNOWN_ID), 5, 'admin', { code: 'NOT_FOUND', message: /does not exist/ }],
    ['a malformed product id', 'abc', 5, 'admin', { code: 'BAD_USER_INPUT', message: /positive integer id/ }],
    ['a customer', String(IN_STOCK), 5, 'alice', { code: 'FORBIDDEN', message: /not allowed/ }],
    ['an anonymous request', String(IN_STOCK), 5, 'anonymous', { code: 'UNAUTHENTICATED', message: /logged in/ }],
  ])('%s', async (_case, id, quantity, who, expected) => {
    await expectRejected(RESTOCK_PRODUCT, { id, quantity }, who, expected);
  });
});
