// The embedded database replaced while Redis keeps its data: `npm run seed` between two runs, a
// restart on `PGLITE_DIR=memory://`, and a data directory restored from a copy taken earlier.
// Each time the gateway must trust nothing Redis derived from the old data.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startGatewayProcess, type GatewayEnv } from '../support/gateway-process';
import { expectNewDatabaseHonoured, seededProduct, useOldDatabase } from '../support/database-replacement';
import { runSeedCli } from '../support/seed-cli';
import { startTestRedis, type TestRedis } from '../../src/testing/redis-topology';

let testRedis: TestRedis;
let dataDir: string;
/** Each test boots two gateway processes on the embedded database (initdb, migrations, seed, in each). */
const PROCESS_TEST_TIMEOUT_MS = 180_000;

beforeAll(async () => {
  testRedis = await startTestRedis();
  dataDir = await mkdtemp(path.join(tmpdir(), 'streamgate-replaced-'));
});

afterAll(async () => {
  await testRedis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A gateway on the embedded database (never the suite's PostgreSQL) and this file's Redis. */
const gatewayOn = (pgliteDir: string) =>
  startGatewayProcess({ env: { PGLITE_DIR: pgliteDir, DATABASE_URL: undefined, ...testRedis.env } satisfies GatewayEnv });

it('after `npm run seed` with Redis kept: new sessions, new data, a fresh history, events published at once', async () => {
  const dir = path.join(dataDir, 'reseeded');
  const before = await gatewayOn(dir);
  const old = await useOldDatabase(before, testRedis);
  await before.stop();

  const seeded = await runSeedCli({ PGLITE_DIR: dir, DATABASE_URL: undefined }, ['--users', '50', '--products', '100', '--orders', '500', '--seed', '9']);
  expect(seeded.code).toBe(0);

  const after = await gatewayOn(dir);
  try {
    await expectNewDatabaseHonoured(after, testRedis, old, await seededProduct({ seed: 9 }));
  } finally {
    await after.stop();
  }
}, PROCESS_TEST_TIMEOUT_MS);

it('after a restart on a fresh in-memory database with Redis kept: the same', async () => {
  const before = await gatewayOn('memory://');
  const old = await useOldDatabase(before, testRedis);
  await before.stop();

  const after = await gatewayOn('memory://');
  try {
    // The same demo data as before the restart: product 1 has its seeded stock again, not the
    // stock the old database's order left in the cache.
    const fresh = await seededProduct();
    expect(old.product.stock).toBe(fresh.stock - 1);
    await expectNewDatabaseHonoured(after, testRedis, old, fresh);
  } finally {
    await after.stop();
  }
}, PROCESS_TEST_TIMEOUT_MS);

it('after the data directory is restored from an earlier copy with Redis kept: the same', async () => {
  const dir = path.join(dataDir, 'restored');
  const backup = path.join(dataDir, 'backup');
  await (await gatewayOn(dir)).stop();
  await cp(dir, backup, { recursive: true });

  const before = await gatewayOn(dir);
  const old = await useOldDatabase(before, testRedis);
  await before.stop();
  await rm(dir, { recursive: true, force: true });
  await cp(backup, dir, { recursive: true });

  const after = await gatewayOn(dir);
  try {
    // Same identity row as before (it is a copy), but Redis saw outbox ids this database never
    // handed out: it went back in time, and gets a new identity.
    expect(after.logs().some((line) => /behind what Redis saw published/.test(String(line.msg)))).toBe(true);
    await expectNewDatabaseHonoured(after, testRedis, old, await seededProduct());
  } finally {
    await after.stop();
  }
}, PROCESS_TEST_TIMEOUT_MS);
