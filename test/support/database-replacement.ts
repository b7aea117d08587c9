// What a gateway must show after its database was replaced while Redis kept its data (a reseed, a
// restart on a fresh embedded database, a restore): old sessions refused, reads of the new data
// (never the old database's cached rows), a cursor of the old history CURSOR_EXPIRED, and the next
// mutation's event published at once and delivered. Shared by the PGlite and PostgreSQL e2e files.
import { hashPassword } from '../../src/auth/password';
import { openDatabase } from '../../src/db/client';
import { seedDatabase, type SeedOptions } from '../../src/db/seed';
import { products } from '../../src/db/schema';
import type { GatewayProcess } from './gateway-process';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { entityKeys } from './cache-entries';
import { PLACE_ORDER } from './documents';
import { login, mutate, postGraphQL } from './graphql';
import type { TestRedis } from '../../src/testing/redis-topology';
import { waitForChannelSubscribers } from './replica-clients';
import { readStream } from './streams';
import { startSubscriber } from './subscriber';

const PRODUCT = '{ product(id: "1") { name stock } }';
const MY_ORDERS = 'subscription ($after: String) { myOrders(after: $after) { cursor type order { id } } }';
const ALICE = { email: 'alice@streamgate.dev', password: 'alice-password' };

export interface ProductView {
  name: string;
  stock: number;
}

/** What a client saw of the old database: a session, a product as cached, a cursor into its history. */
export interface OldDatabaseView {
  token: string;
  product: ProductView;
  cursor: string;
}

/** Product 1 as a seed with these options creates it (computed in a scratch in-memory database). */
export async function seededProduct(options: Partial<Omit<SeedOptions, 'hashPassword'>> = {}): Promise<ProductView> {
  const database = await openDatabase({ pgliteDir: 'memory://' });
  try {
    await database.migrate();
    await seedDatabase(database.db, { ...options, hashPassword });
    const [row] = await database.db.select({ name: products.name, stock: products.stock }).from(products).orderBy(products.id).limit(1);
    return row!;
  } finally {
    await database.close();
  }
}

/** Logs in, orders product 1 (its stock changes and is cached), and notes the order's stream cursor. */
export async function useOldDatabase(gateway: GatewayProcess, testRedis: TestRedis): Promise<OldDatabaseView> {
  const token = await login(gateway, ALICE.email, ALICE.password);
  await mutate(gateway, PLACE_ORDER, { input: { items: [{ productId: '1', quantity: 1 }] } }, token);
  const { product } = await mutate<{ product: ProductView }>(gateway, PRODUCT);
  // Read twice: the second answer comes from the cache, so Redis holds this state of product 1.
  await mutate(gateway, PRODUCT);
  const redis = testRedis.connect();
  try {
    // Not vacuous: the old database's row of product 1 is in the cache, for the new gateway to ignore.
    const cached = entityKeys(await testRedis.boundKeys(redis), productCacheType, 1);
    expect(await redis.hget(cached.value, productCacheType.locate(1).field)).not.toBeNull();
    const entries = await readStream(redis, testRedis.keys.stream('orders'));
    return { token, product, cursor: entries.at(-1)!.streamId };
  } finally {
    redis.disconnect();
  }
}

/** Everything a gateway on the new database must show; `expected` is product 1 as the new database holds it. */
export async function expectNewDatabaseHonoured(gateway: GatewayProcess, testRedis: TestRedis, old: OldDatabaseView, expected: ProductView): Promise<void> {
  // A session of the old database is no session: 401, not "whoever has that user id now".
  const stale = await postGraphQL(gateway, '{ me { id } }', { token: old.token });
  expect(stale.status).toBe(401);

  // Reads show the new database, not the old one's cached row.
  expect((await mutate<{ product: ProductView }>(gateway, PRODUCT)).product).toEqual(expected);

  const token = await login(gateway, ALICE.email, ALICE.password);
  // A cursor into the old database's history cannot be resumed: the client is told to refetch.
  const resumed = startSubscriber({ urls: gateway.wsUrl, token, query: MY_ORDERS, field: 'myOrders', after: old.cursor, isRetrying: false });
  const live = startSubscriber({ urls: gateway.wsUrl, token, query: MY_ORDERS, field: 'myOrders', isRetrying: false });
  const redis = testRedis.connect();
  try {
    const [expired] = await resumed.waitForError();
    expect(expired?.extensions?.code).toBe('CURSOR_EXPIRED');
    await live.waitForConnections(1);
    await waitForChannelSubscribers(redis, { [testRedis.keys.channel('user-orders', 2)]: 1 });

    // The next mutation's event is in the stream when the mutation returns (the old database's
    // "published" marker for the same outbox id is not this row's), and reaches the subscriber.
    const { placeOrder } = await mutate<{ placeOrder: { id: string } }>(gateway, PLACE_ORDER, { input: { items: [{ productId: '1', quantity: 1 }] } }, token);
    const newest = (await readStream(redis, testRedis.keys.stream('orders'))).at(-1)!;
    expect(newest.event.data).toMatchObject({ orderId: Number(placeOrder.id) });
    const [delivered] = await live.waitForEvents(1);
    expect(delivered).toMatchObject({ cursor: newest.streamId, type: 'ORDER_PLACED', order: { id: placeOrder.id } });
    expect(gateway.logs().filter((line) => /already published|not published in time/.test(String(line.msg)))).toEqual([]);
  } finally {
    redis.disconnect();
    await Promise.all([resumed.dispose(), live.dispose()]);
  }
}
