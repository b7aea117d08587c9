// PostgreSQL replaced under a running gateway, Redis kept: `npm run seed` while it serves (it must
// notice by itself), and a copy of the database taken earlier started as a restored backup.
// PostgreSQL only (skipped without DATABASE_URL).
import { createGatewayDatabase, startGatewayProcess, type GatewayDatabase } from '../support/gateway-process';
import { expectNewDatabaseHonoured, seededProduct, useOldDatabase } from '../support/database-replacement';
import { runSeedCli } from '../support/seed-cli';
import { startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import { adminQuery } from '../../src/testing/scratch-postgres';
import { startSubscriber } from '../support/subscriber';
import { login } from '../support/graphql';

const describeOnPostgres = process.env.DATABASE_URL ? describe : describe.skip;

describeOnPostgres('PostgreSQL replaced while Redis keeps its data', () => {
  let testRedis: TestRedis;
  let database: GatewayDatabase;

  beforeAll(async () => {
    testRedis = await startTestRedis();
    database = await createGatewayDatabase();
  });

  afterAll(async () => {
    await testRedis?.stop();
    await database?.dispose();
  });

  it('a running gateway notices `npm run seed`: live subscribers are told to refetch, and the new data is served', async () => {
    const gateway = await startGatewayProcess({ env: { ...database.env, ...testRedis.env } });
    try {
      const old = await useOldDatabase(gateway, testRedis);
      const token = await login(gateway.url, 'bob@streamgate.dev', 'bob-password');
      const live = startSubscriber({ urls: gateway.wsUrl, token, query: 'subscription { myOrders { cursor } }', field: 'myOrders', isRetrying: false });
      await live.waitForConnections(1);

      const seeded = await runSeedCli(database.env, ['--seed', '9']);
      expect(seeded.code).toBe(0);
      await gateway.waitForLog((line) => /the database was replaced/.test(String(line.msg)), 10_000);

      const [told] = await live.waitForError();
      expect(told?.extensions?.code).toBe('CURSOR_EXPIRED');
      await live.dispose();
      await expectNewDatabaseHonoured(gateway, testRedis, old, await seededProduct({ seed: 9 }));
    } finally {
      await gateway.stop();
    }
  });

  it('a backup restored into another database is not taken for the database Redis knows', async () => {
    // The "backup": a copy of the database as the gateway left it, before the orders below.
    const gateway = await startGatewayProcess({ env: { ...database.env, SEED_DEMO_DATA: 'true', ...testRedis.env } });
    const backupProduct = await useOldDatabase(gateway, testRedis).then((view) => view.product);
    await gateway.stop();
    const source = new URL(database.env.DATABASE_URL!);
    const restoredName = `${source.pathname.slice(1)}_restored`;
    await adminQuery(process.env.DATABASE_URL!, `create database ${restoredName} template ${source.pathname.slice(1)}`);
    const restored = new URL(source);
    restored.pathname = `/${restoredName}`;
    try {
      // The original moves on: another order, cached by the gateway.
      const before = await startGatewayProcess({ env: { ...database.env, ...testRedis.env } });
      const old = await useOldDatabase(before, testRedis);
      await before.stop();
      expect(old.product.stock).toBe(backupProduct.stock - 1);

      const after = await startGatewayProcess({ env: { DATABASE_URL: restored.toString(), ...testRedis.env } });
      try {
        expect(after.logs().some((line) => /recreated or restored from a dump/.test(String(line.msg)))).toBe(true);
        await expectNewDatabaseHonoured(after, testRedis, old, backupProduct);
      } finally {
        await after.stop();
      }
    } finally {
      await adminQuery(process.env.DATABASE_URL!, `drop database if exists ${restoredName} with (force)`);
    }
  });
});
