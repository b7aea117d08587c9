// Mutations end to end with the cache in place: a successful write is read back at once (its entry
// was invalidated), and a rejected one changes neither the row nor its cached entry.
import type { RedisClient } from '../../src/redis/client';
import type { RedisKeys } from '../../src/redis/keys';
import { eq } from 'drizzle-orm';
import { products, users, type ProductRow } from '../../src/db/schema';
import { demoAccounts, generatedUserPassword } from '../../src/db/seed';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { userCacheType } from '../../src/modules/users/user.loader';
import { readCacheEntry, readCachedValue } from '../support/cache-entries';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createOperationRunner, errorCodes } from '../support/operations';

const [admin, alice, bob] = demoAccounts as [(typeof demoAccounts)[number], (typeof demoAccounts)[number], (typeof demoAccounts)[number]];
const ALICE_ID = 2;
const BOB_ID = 3;

let gateway: TestGateway;
let execute: ReturnType<typeof createOperationRunner>;
let redis: RedisClient;
let redisKeys: RedisKeys;
let adminToken: string;
let customerToken: string;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 20, orders: 0 } });
  execute = createOperationRunner(gateway.app);
  redis = gateway.redis.connect();
  redisKeys = gateway.app.keys;
  adminToken = await gateway.login(admin.email, admin.password);
  customerToken = await gateway.login(alice.email, alice.password);
});

afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
});

const PRODUCT = 'query ($id: ID!) { product(id: $id) { id name description priceCents stock updatedAt } }';
const UPDATE_PRODUCT =
  'mutation ($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id name description priceCents stock updatedAt } }';
const USER = 'query ($id: ID!) { user(id: $id) { id name email role } }';
const UPDATE_USER = 'mutation ($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id name email role } }';
const ME = '{ me { id name role } }';

type Who = 'admin' | 'customer' | 'anonymous';
const tokenOf = (who: Who) => ({ admin: adminToken, customer: customerToken, anonymous: undefined })[who];

interface ProductData {
  id: string;
  name: string;
  description: string;
  priceCents: number;
  stock: number;
  updatedAt: string;
}

async function productRow(id: number): Promise<ProductRow | undefined> {
  const [row] = await gateway.app.database.db.select().from(products).where(eq(products.id, id));
  return row;
}

async function userRow(id: number) {
  const [row] = await gateway.app.database.db.select().from(users).where(eq(users.id, id));
  return row;
}

/** Reads the product through the API, so its entry is in Redis; returns what the API answered. */
async function warmProduct(id: number): Promise<ProductData> {
  const result = await execute<{ product: ProductData }>(PRODUCT, { id: String(id) });
  expect(result.errors).toBeUndefined();
  expect((await readCacheEntry(redis, redisKeys, productCacheType, id)).raw).not.toBeNull();
  return result.data!.product;
}

/** The row and the raw cached entry, to compare before and after a rejected mutation. */
async function productState(id: number) {
  return { row: await productRow(id), cached: (await readCacheEntry(redis, redisKeys, productCacheType, id)).raw };
}

async function userState(id: number) {
  return { row: await userRow(id), cached: (await readCacheEntry(redis, redisKeys, userCacheType, id)).raw };
}

describe('updateProduct', () => {
  const PRODUCT_ID = 4;

  it('is read back at once with the new values, a new version and a new updatedAt (read-your-writes)', async () => {
    const before = await warmProduct(PRODUCT_ID);
    const rowBefore = (await productRow(PRODUCT_ID))!;
    const changes = { name: 'Renamed lamp', description: 'Now brighter.', priceCents: rowBefore.priceCents + 101, stock: 77 };

    const updated = await execute<{ updateProduct: ProductData }>(UPDATE_PRODUCT, { id: String(PRODUCT_ID), input: changes }, adminToken);
    expect(updated.errors).toBeUndefined();
    expect(updated.data!.updateProduct).toMatchObject(changes);

    const after = await execute<{ product: ProductData }>(PRODUCT, { id: String(PRODUCT_ID) });
    expect(after.errors).toBeUndefined();
    expect(after.data!.product).toEqual(updated.data!.updateProduct);
    expect(after.data!.product).toMatchObject(changes);
    expect(after.data!.product.updatedAt).not.toBe(before.updatedAt);
    expect(new Date(after.data!.product.updatedAt).getTime()).toBeGreaterThan(new Date(before.updatedAt).getTime());

    const rowAfter = (await productRow(PRODUCT_ID))!;
    expect(rowAfter.version).toBe(rowBefore.version + 1);
    expect(rowAfter).toMatchObject(changes);
    expect(await readCachedValue(redis, redisKeys, productCacheType, PRODUCT_ID)).toEqual(rowAfter);
  });

  it('keeps the fields the input leaves out', async () => {
    await warmProduct(PRODUCT_ID);
    const rowBefore = (await productRow(PRODUCT_ID))!;
    const updated = await execute<{ updateProduct: ProductData }>(UPDATE_PRODUCT, { id: String(PRODUCT_ID), input: { stock: 5 } }, adminToken);
    expect(updated.errors).toBeUndefined();
    const after = await warmProduct(PRODUCT_ID);
    expect(after).toMatchObject({ name: rowBefore.name, description: rowBefore.description, priceCents: rowBefore.priceCents, stock: 5 });
  });

  it.each<[string, string, Record<string, unknown>, Who, string]>([
    ['a negative priceCents', String(PRODUCT_ID), { priceCents: -1 }, 'admin', 'BAD_USER_INPUT'],
    ['stock above the maximum', String(PRODUCT_ID), { stock: 1_000_000_001 }, 'admin', 'BAD_USER_INPUT'],
    ['an empty name', String(PRODUCT_ID), { name: '' }, 'admin', 'BAD_USER_INPUT'],
    ['a blank name', String(PRODUCT_ID), { name: '   ' }, 'admin', 'BAD_USER_INPUT'],
    ['a valid name next to a negative price', String(PRODUCT_ID), { name: 'Half applied?', priceCents: -5 }, 'admin', 'BAD_USER_INPUT'],
    ['stock beyond a GraphQL Int', String(PRODUCT_ID), { stock: 3_000_000_000 }, 'admin', 'BAD_USER_INPUT'],
    ['a fractional priceCents', String(PRODUCT_ID), { priceCents: 10.5 }, 'admin', 'BAD_USER_INPUT'],
    ['a description over 5,000 characters', String(PRODUCT_ID), { description: 'x'.repeat(5001) }, 'admin', 'BAD_USER_INPUT'],
    ['an empty input', String(PRODUCT_ID), {}, 'admin', 'BAD_USER_INPUT'],
    ['an id beyond the id range', '2147483648', { name: 'Overflow' }, 'admin', 'BAD_USER_INPUT'],
    ['a malformed id', 'abc', { name: 'Whatever' }, 'admin', 'BAD_USER_INPUT'],
    ['an unknown id', '999999', { name: 'Ghost' }, 'admin', 'NOT_FOUND'],
    ['a customer', String(PRODUCT_ID), { name: 'Customer edit' }, 'customer', 'FORBIDDEN'],
    ['an anonymous request', String(PRODUCT_ID), { name: 'Anonymous edit' }, 'anonymous', 'UNAUTHENTICATED'],
  ])('rejects %s, changing neither the row nor its cached entry', async (_case, id, input, who, code) => {
    await warmProduct(PRODUCT_ID);
    const before = await productState(PRODUCT_ID);
    expect(before.cached).not.toBeNull();

    const result = await execute(UPDATE_PRODUCT, { id, input }, tokenOf(who));
    expect(errorCodes(result)).toEqual([code]);
    expect(result.data ?? null).toBeNull();

    expect(await productState(PRODUCT_ID)).toEqual(before);
    expect(await productRow(999_999)).toBeUndefined();
  });
});

describe('updateUser', () => {
  const RENAMED_ID = 4;
  const ROLE_CHANGED_ID = 5;
  const emailOf = (id: number) => `user${id}@example.com`;

  it("renames a user: admins see the new name via user(id), and the user's own me { name } shows it", async () => {
    const userToken = await gateway.login(emailOf(RENAMED_ID), generatedUserPassword);
    const meBefore = await execute<{ me: { name: string } }>(ME, {}, userToken);
    const userBefore = await execute<{ user: { name: string } }>(USER, { id: String(RENAMED_ID) }, adminToken);
    expect(userBefore.data!.user.name).toBe(meBefore.data!.me.name);
    expect(await readCachedValue(redis, redisKeys, userCacheType, RENAMED_ID)).toMatchObject({ name: meBefore.data!.me.name });

    const renamed = await execute(UPDATE_USER, { id: String(RENAMED_ID), input: { name: 'Rita Renamed' } }, adminToken);
    expect(renamed.errors).toBeUndefined();

    const userAfter = await execute<{ user: { name: string } }>(USER, { id: String(RENAMED_ID) }, adminToken);
    expect(userAfter.data!.user.name).toBe('Rita Renamed');
    // A rename keeps the user's sessions; their own view is fresh too.
    const meAfter = await gateway.graphql<{ me: { name: string } }>(ME, { token: userToken });
    expect(meAfter.status).toBe(200);
    expect(meAfter.body.data!.me.name).toBe('Rita Renamed');
    expect((await userRow(RENAMED_ID))!.name).toBe('Rita Renamed');
  });

  it.each([
    ['the same address', bob.email],
    ['the same address in other case, with spaces', `  ${bob.email.toUpperCase()} `],
  ])("refuses another user's email (%s) with CONFLICT and changes nothing", async (_case, email) => {
    await execute(USER, { id: String(ALICE_ID) }, adminToken); // warm the entry
    const before = await userState(ALICE_ID);
    const bobBefore = await userState(BOB_ID);
    expect(before.cached).not.toBeNull();

    const result = await execute(UPDATE_USER, { id: String(ALICE_ID), input: { email, name: 'Alice Changed' } }, adminToken);
    expect(errorCodes(result)).toEqual(['CONFLICT']);

    expect(await userState(ALICE_ID)).toEqual(before);
    expect(await userState(BOB_ID)).toEqual(bobBefore);
    const alicesView = await execute<{ me: { name: string } }>(ME, {}, customerToken);
    expect(alicesView.data!.me.name).toBe(alice.name);
  });

  it.each<[string, string, Record<string, unknown>, Who, string]>([
    ['a malformed email', String(ALICE_ID), { email: 'not-an-email' }, 'admin', 'BAD_USER_INPUT'],
    ['an empty name', String(ALICE_ID), { name: ' ' }, 'admin', 'BAD_USER_INPUT'],
    ['an empty input', String(ALICE_ID), {}, 'admin', 'BAD_USER_INPUT'],
    ['an unknown role', String(ALICE_ID), { role: 'OWNER' }, 'admin', 'BAD_USER_INPUT'],
    ['an unknown id', '999999', { name: 'Ghost' }, 'admin', 'NOT_FOUND'],
    ['a customer (even for themselves)', String(ALICE_ID), { role: 'ADMIN' }, 'customer', 'FORBIDDEN'],
    ['an anonymous request', String(ALICE_ID), { name: 'Anonymous edit' }, 'anonymous', 'UNAUTHENTICATED'],
  ])('rejects %s, changing neither the user row nor its cached entry', async (_case, id, input, who, code) => {
    await execute(USER, { id: String(ALICE_ID) }, adminToken);
    const before = await userState(ALICE_ID);
    expect(before.cached).not.toBeNull();

    const result = await execute(UPDATE_USER, { id, input }, tokenOf(who));
    expect(errorCodes(result)).toEqual([code]);

    expect(await userState(ALICE_ID)).toEqual(before);
    expect(await userRow(999_999)).toBeUndefined();
    const aliceStill = await gateway.graphql(ME, { token: customerToken });
    expect(aliceStill.status).toBe(200);
  });

  it("ends every session of a user whose role changed (401 UNAUTHENTICATED over HTTP), and only theirs", async () => {
    const email = emailOf(ROLE_CHANGED_ID);
    const tokens = [await gateway.login(email, generatedUserPassword), await gateway.login(email, generatedUserPassword)];
    for (const token of tokens) {
      const response = await gateway.graphql<{ me: { role: string } }>(ME, { token });
      expect(response.status).toBe(200);
      expect(response.body.data!.me.role).toBe('CUSTOMER');
    }

    const promoted = await execute(UPDATE_USER, { id: String(ROLE_CHANGED_ID), input: { role: 'ADMIN' } }, adminToken);
    expect(promoted.errors).toBeUndefined();

    for (const token of tokens) {
      const response = await gateway.graphql(ME, { token });
      expect(response.status).toBe(401);
      expect(response.body.errors?.map((error) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    }
    const adminStill = await gateway.graphql(ME, { token: adminToken });
    expect(adminStill.status).toBe(200);
    const customerStill = await gateway.graphql(ME, { token: customerToken });
    expect(customerStill.status).toBe(200);

    const newSession = await gateway.login(email, generatedUserPassword);
    const me = await gateway.graphql<{ me: { role: string } }>(ME, { token: newSession });
    expect(me.body.data!.me.role).toBe('ADMIN');
  });
});
