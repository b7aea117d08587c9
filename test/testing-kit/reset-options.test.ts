// The ways reset() could give each test a clean gateway, each checked for being clean and timed
// (docs/extending.md has the figures). Only what can be correct is timed: a transaction rolled
// back around a test cannot be (the app commits on connections of its own and the outbox relay
// must see the commits), nor can FLUSHDB under a running app (it drops the database binding and
// streams the relay and feeds are using) or on a shared Redis.
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import { createTestGateway, type TestGateway } from 'streamgate/testing';
import { databaseSource, SNAPSHOT_SEED } from '../../src/testing/database';
import { restoreSnapshot } from '../../src/testing/snapshot';
import { seedDatabase } from '../../src/db/seed';
import { hashPassword } from '../../src/auth/password';

const ROUNDS = 5;
const PRODUCT_NAME = 'query Product($id: ID!) { product(id: $id) { name } }';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

let gateway: TestGateway;
const figures: Record<string, number> = {};

beforeAll(async () => {
  gateway = await createTestGateway();
});
afterAll(async () => {
  await gateway?.close();
  console.log(`reset options, median of ${ROUNDS} (ms): ${JSON.stringify(figures)}`);
});

/** A write a clean state must not show: a renamed seeded product, read once so it is cached too. */
async function dirty(): Promise<void> {
  await gateway.execute('mutation { updateProduct(id: "1", input: { name: "Dirty" }) { name } }', { as: 'admin' });
  expect((await gateway.execute(PRODUCT_NAME, { variables: { id: '1' } })).data).toEqual({ product: { name: 'Dirty' } });
}

test('in place: the snapshot schema restored, a new identity (the kit\'s reset)', async () => {
  const timings: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    await dirty();
    timings.push(await timed(() => gateway.reset()));
    expect((await gateway.execute(PRODUCT_NAME, { variables: { id: '1' } })).data).not.toEqual({ product: { name: 'Dirty' } });
  }
  figures.inPlaceRestore = Math.round(median(timings));
});

test('a new gateway: a fresh database copy and a fresh Redis prefix', async () => {
  const timings: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    await dirty();
    let fresh: TestGateway | undefined;
    timings.push(await timed(async () => (fresh = await createTestGateway())));
    expect((await fresh!.execute(PRODUCT_NAME, { variables: { id: '1' } })).data).not.toEqual({ product: { name: 'Dirty' } });
    await fresh!.close();
  }
  figures.newGateway = Math.round(median(timings));
});

test('re-seeding instead of restoring the snapshot rows (scrypt hashes reused)', async () => {
  const source = await databaseSource([]);
  const { database, discard } = await source.copy();
  const hashes = new Map<string, Promise<string>>();
  const cachedHash = (password: string, salt: Buffer) => {
    const key = `${password}|${salt.toString('hex')}`;
    if (!hashes.has(key)) hashes.set(key, hashPassword(password, salt));
    return hashes.get(key)!;
  };
  const reseedTimings: number[] = [];
  const restoreTimings: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      reseedTimings.push(
        await timed(async () => {
          await database.db.execute(sql`truncate users, products, orders, order_items, outbox, idempotency_keys, notifications, processed_events restart identity`);
          await seedDatabase(database.db, { ...SNAPSHOT_SEED, hashPassword: cachedHash });
        }),
      );
      restoreTimings.push(await timed(() => restoreSnapshot(database.db)));
    }
    const result = (await database.db.execute(sql`select count(*)::int as count from orders`)) as unknown as { rows: Array<{ count: number }> };
    expect(result.rows[0]?.count).toBe(SNAPSHOT_SEED.orders);
  } finally {
    await database.close();
    await discard();
  }
  figures.reseedDataOnly = Math.round(median(reseedTimings.slice(1)));
  figures.restoreDataOnly = Math.round(median(restoreTimings));
});
