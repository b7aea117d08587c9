// The stale-set race, played deterministically against a real redis-server and a real database: a
// reader misses, reads the row (v1), and is held there; a writer commits v2 and invalidates; then the
// reader writes back. With leases the write-back is dropped, so Redis ends with v2 or nothing; the
// same interleaving against a naive cache-aside leaves v1 in Redis (so this test can fail). The
// fill path of list pages (generation instead of lease) gets the same treatment.
import type { RedisClient } from '../../src/redis/client';
import type { RedisKeys } from '../../src/redis/keys';
import { eq, inArray } from 'drizzle-orm';
import type { LoadFromDatabase } from '../../src/cache/cache-store';
import { products, type ProductRow } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import { orderedByKeys } from '../../src/modules/common/batch';
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { entityKeys, invalidateEntries, readCachedValue } from '../support/cache-entries';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { createOperationRunner } from '../support/operations';
import { deferred } from '../../src/testing/wait';

const PRODUCT_ID = 7;

let gateway: TestGateway;
let execute: ReturnType<typeof createOperationRunner>;
let adminToken: string;
let redis: RedisClient;
let redisKeys: RedisKeys;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 5, products: 10, orders: 0 } });
  execute = createOperationRunner(gateway.app);
  adminToken = await gateway.login(demoAccounts[0]!.email, demoAccounts[0]!.password);
  redis = gateway.redis.connect();
  redisKeys = gateway.app.keys;
});

afterAll(async () => {
  redis?.disconnect();
  await gateway?.stop();
});

const UPDATE_PRODUCT = 'mutation ($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id name } }';
const PRODUCT = 'query ($id: ID!) { product(id: $id) { id name } }';

async function productRowInDatabase(id: number): Promise<ProductRow> {
  const [row] = await gateway.app.database.db.select().from(products).where(eq(products.id, id));
  if (!row) throw new Error(`product ${id} is not in the database`);
  return row;
}

const cachedProduct = (id: number) => readCachedValue(redis, redisKeys, productCacheType, id);

async function updateProductName(id: number, name: string): Promise<void> {
  const result = await execute(UPDATE_PRODUCT, { id: String(id), input: { name } }, adminToken);
  expect(result.errors).toBeUndefined();
  expect(result.data).toEqual({ updateProduct: { id: String(id), name } });
}

async function queryProductName(id: number): Promise<string | undefined> {
  const result = await execute<{ product: { name: string } | null }>(PRODUCT, { id: String(id) });
  expect(result.errors).toBeUndefined();
  return result.data?.product?.name;
}

/** One cache-aside read of a product: how the reader under test goes to the cache and, on a miss, the database. */
type ReadThrough = (id: number, loadFromDatabase: LoadFromDatabase<number, ProductRow>) => Promise<ProductRow | null>;

const leasedReadThrough: ReadThrough = async (id, loadFromDatabase) => {
  const [row] = await gateway.app.cache.load(productCacheType, [id], loadFromDatabase);
  return row ?? null;
};

/** The textbook cache-aside without leases: read; on a miss load and write back unconditionally. */
const naiveReadThrough: ReadThrough = async (id, loadFromDatabase) => {
  const { value: valueKey } = entityKeys(redisKeys, productCacheType, id);
  const { field } = productCacheType.locate(id);
  const cached = await redis.hget(valueKey, field);
  if (cached !== null) return productCacheType.decode(cached);
  const [row] = await loadFromDatabase([id]);
  if (row) {
    await redis.hset(valueKey, field, productCacheType.encode(row));
    await redis.pexpire(valueKey, 300_000);
  }
  return row ?? null;
};

/**
 * Runs a cold read of `id` that reads the database before `write` runs and writes back after it
 * finished. Resolves to what the reader loaded.
 */
async function readAcrossWrite(readThrough: ReadThrough, id: number, write: () => Promise<void>): Promise<ProductRow | null> {
  await invalidateEntries(gateway.app, productCacheType, [String(id)]);
  expect(await cachedProduct(id)).toBeUndefined();

  const readDone = deferred();
  const released = deferred();
  const reader = readThrough(id, async (ids) => {
    const rows = await gateway.app.database.db.select().from(products).where(inArray(products.id, ids));
    readDone.resolve();
    await released.promise;
    return orderedByKeys(ids, rows, (row) => row.id);
  });
  await readDone.promise;
  await write();
  released.resolve();
  return reader;
}

describe('entity reads (leases)', () => {
  it('drops the write-back of a reader that loaded v1 before a writer committed v2 and invalidated', async () => {
    const v1 = await productRowInDatabase(PRODUCT_ID);
    const droppedBefore = gateway.app.cacheStats.byType.get('Product')?.writeBacksDropped ?? 0;

    const readerSaw = await readAcrossWrite(leasedReadThrough, PRODUCT_ID, () => updateProductName(PRODUCT_ID, 'Leased v2'));

    const v2 = await productRowInDatabase(PRODUCT_ID);
    expect(readerSaw).toEqual(v1); // the reader really read before the write
    expect(v2.name).toBe('Leased v2');
    expect(v2.version).toBe(v1.version + 1);
    expect([undefined, v2]).toContainEqual(await cachedProduct(PRODUCT_ID));
    expect(gateway.app.cacheStats.byType.get('Product')!.writeBacksDropped).toBe(droppedBefore + 1);

    expect(await queryProductName(PRODUCT_ID)).toBe('Leased v2');
    expect(await cachedProduct(PRODUCT_ID)).toEqual(v2);
  });

  it('keeps v2 filled by a reader that came after the write when the stale reader writes back last', async () => {
    const v1 = await productRowInDatabase(PRODUCT_ID);

    const readerSaw = await readAcrossWrite(leasedReadThrough, PRODUCT_ID, async () => {
      await updateProductName(PRODUCT_ID, 'Leased v3');
      // A second reader misses after the invalidation, takes a fresh lease and fills v2.
      expect(await queryProductName(PRODUCT_ID)).toBe('Leased v3');
    });

    const v2 = await productRowInDatabase(PRODUCT_ID);
    expect(readerSaw).toEqual(v1);
    expect(await cachedProduct(PRODUCT_ID)).toEqual(v2);
    expect(await queryProductName(PRODUCT_ID)).toBe('Leased v3');
  });

  it('leaves the stale v1 in Redis when the same interleaving runs against a naive cache-aside', async () => {
    const v1 = await productRowInDatabase(PRODUCT_ID);

    const readerSaw = await readAcrossWrite(naiveReadThrough, PRODUCT_ID, () => updateProductName(PRODUCT_ID, 'Naive v2'));

    const v2 = await productRowInDatabase(PRODUCT_ID);
    expect(readerSaw).toEqual(v1);
    expect(v2.name).toBe('Naive v2');
    expect(await cachedProduct(PRODUCT_ID)).toEqual(v1);
    // ...and every later reader is served the stale row until the entry expires.
    expect(await queryProductName(PRODUCT_ID)).toBe(v1.name);

    await invalidateEntries(gateway.app, productCacheType, [String(PRODUCT_ID)]);
    expect(await queryProductName(PRODUCT_ID)).toBe('Naive v2');
  });
});

describe('list-page fills (generation)', () => {
  it('refuses to fill rows read before a write that invalidated the type, and fills rows read after it', async () => {
    await invalidateEntries(gateway.app, productCacheType, [String(PRODUCT_ID)]);

    const generationBeforeRead = await gateway.app.cache.readGeneration(productCacheType);
    expect(generationBeforeRead).not.toBeNull();
    const v1 = await productRowInDatabase(PRODUCT_ID);
    await updateProductName(PRODUCT_ID, 'Filled v2');
    await gateway.app.cache.fill(productCacheType, [[PRODUCT_ID, v1]], generationBeforeRead);
    expect(await cachedProduct(PRODUCT_ID)).toBeUndefined();

    const generationAfterWrite = await gateway.app.cache.readGeneration(productCacheType);
    expect(generationAfterWrite).not.toBe(generationBeforeRead);
    const v2 = await productRowInDatabase(PRODUCT_ID);
    expect(v2.name).toBe('Filled v2');
    await gateway.app.cache.fill(productCacheType, [[PRODUCT_ID, v2]], generationAfterWrite);
    expect(await cachedProduct(PRODUCT_ID)).toEqual(v2);
    expect(await queryProductName(PRODUCT_ID)).toBe('Filled v2');
  });

  it('would have cached the stale row had the fill ignored the generation (the control)', async () => {
    await invalidateEntries(gateway.app, productCacheType, [String(PRODUCT_ID)]);
    const v1 = await productRowInDatabase(PRODUCT_ID);
    await updateProductName(PRODUCT_ID, 'Filled v3');
    // The generation read after the write lets the same stale row in: the generation is the only guard.
    await gateway.app.cache.fill(productCacheType, [[PRODUCT_ID, v1]], await gateway.app.cache.readGeneration(productCacheType));
    expect(await cachedProduct(PRODUCT_ID)).toEqual(v1);

    await invalidateEntries(gateway.app, productCacheType, [String(PRODUCT_ID)]);
    expect(await queryProductName(PRODUCT_ID)).toBe('Filled v3');
  });
});
