// One process per PGlite directory, with real processes: `npm run seed` beside a running gateway is
// refused with one line (and the gateway keeps serving what it served), so is a second gateway; a
// gateway that stopped or was killed leaves the directory to the next process.
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { STALE_LOCK_MS } from '../../src/db/pglite-dir-lock';
import { runGatewayToExit, startGatewayProcess, type GatewayEnv, type GatewayProcess } from '../support/gateway-process';
import { startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import { runSeedCli } from '../support/seed-cli';
import { login, mutate } from '../support/graphql';

const seedArgs = ['--users', '5', '--products', '3', '--orders', '4', '--seed', '9'];
const stackTraceLine = /^\s+at /m;

// PGlite only: the PostgreSQL pass of the suite would run the very same processes again.
const describeOnPglitePass = process.env.DATABASE_URL ? describe.skip : describe;

/** `npm run seed` on `pgliteDir`. */
const runSeed = (pgliteDir: string) => runSeedCli({ PGLITE_DIR: pgliteDir }, seedArgs);

const SHOP_QUERY = `{
  products(first: 100) { edges { node { id sku name stock } } }
  orders(first: 100) { edges { node { id status totalCents items { quantity unitPriceCents product { id } } } } }
}`;

interface Shop {
  products: { edges: Array<{ node: { id: string; sku: string; name: string; stock: number } }> };
  orders: { edges: Array<{ node: { id: string; items: unknown[] } }> };
}

/** Every product and the newest 100 orders with their items, as the admin sees them. */
async function readShop(gateway: GatewayProcess): Promise<Shop> {
  const token = await login(gateway.url, 'admin@streamgate.dev', 'admin-password');
  return mutate<Shop>(gateway.url, SHOP_QUERY, {}, token);
}

function stderrLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '');
}

function expectOneLineNamingTheDirectory(stderr: string, dir: string): void {
  const lines = stderrLines(stderr);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`PGlite directory ${dir} is in use by another process`);
  expect(lines[0]).toContain('stop it first');
  expect(stderr).not.toMatch(stackTraceLine);
}

describeOnPglitePass('one process per PGlite directory', () => {
  let testRedis: TestRedis;
  let scratchDir: string;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    testRedis = await startTestRedis();
    scratchDir = await mkdtemp(path.join(tmpdir(), 'streamgate-pglite-lock-'));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    await testRedis?.stop();
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
  });

  let dirCount = 0;
  const freshDir = () => path.join(scratchDir, `data-${++dirCount}`);

  /** With the caches off, every answer is read from PGlite: it shows what the directory holds. */
  const gatewayEnv = (pgliteDir: string): GatewayEnv => ({
    PGLITE_DIR: pgliteDir,
    DATABASE_URL: undefined,
    ...testRedis.env,
    CACHE_ENABLED: 'false',
  });

  async function startGateway(pgliteDir: string): Promise<GatewayProcess> {
    const gateway = await startGatewayProcess({ env: gatewayEnv(pgliteDir) });
    cleanups.push(() => gateway.kill());
    return gateway;
  }

  it('refuses `npm run seed` beside a running gateway with one line, and the gateway keeps serving the same data', async () => {
    const dir = freshDir();
    const gateway = await startGateway(dir);
    const before = await readShop(gateway);
    expect(before.products.edges).toHaveLength(100);

    const seed = await runSeed(dir);

    expect(seed.code).toBe(1);
    expect(seed.stdout).toBe('');
    expect(stderrLines(seed.stderr)[0]).toMatch(/^seed: /);
    expectOneLineNamingTheDirectory(seed.stderr, dir);
    expect(await readShop(gateway)).toEqual(before);
    expect(await gateway.stop()).toEqual({ code: 0, signal: null });
  }, 120_000);

  it('refuses a second gateway on the same directory with one line', async () => {
    const dir = freshDir();
    const first = await startGateway(dir);
    const before = await readShop(first);

    const second = await runGatewayToExit({ env: gatewayEnv(dir) });

    expect(second).toMatchObject({ code: 1, signal: null });
    expect(stderrLines(second.stderr)[0]).toMatch(/^streamgate: /);
    expectOneLineNamingTheDirectory(second.stderr, dir);
    expect(await readShop(first)).toEqual(before);
  }, 120_000);

  it('seeds once the gateway has stopped (SIGTERM), and the next gateway serves the seeded data', async () => {
    const dir = freshDir();
    const first = await startGateway(dir);
    expect(await first.stop()).toEqual({ code: 0, signal: null });

    const seed = await runSeed(dir);

    expect(seed).toMatchObject({ code: 0, stderr: '' });
    expect(seed.stdout).toContain(`seeded PGlite at ${dir}: 5 users, 3 products, 4 orders`);
    const next = await startGateway(dir);
    const shop = await readShop(next);
    expect(shop.products.edges).toHaveLength(3);
    expect(shop.orders.edges).toHaveLength(4);
    for (const { node } of shop.orders.edges) expect(node.items.length).toBeGreaterThan(0);
  }, 120_000);

  it(`takes the directory of a gateway killed with SIGKILL once its lock is ${STALE_LOCK_MS} ms old`, async () => {
    const dir = freshDir();
    const killed = await startGateway(dir);
    expect(await killed.kill()).toEqual({ code: null, signal: 'SIGKILL' });

    // Nothing ran at the kill to remove the lock: while it is fresh, the directory is still refused.
    const lock = path.join(dir, 'streamgate.lock');
    expect((await runSeed(dir)).code).toBe(1);
    // Its last refresh made STALE_LOCK_MS old (rather than waited for): now it is stale, and taken over.
    const stale = new Date(Date.now() - STALE_LOCK_MS - 1000);
    await utimes(lock, stale, stale);
    const seed = await runSeed(dir);

    expect(seed).toMatchObject({ code: 0, stderr: '' });
    const next = await startGateway(dir);
    expect((await readShop(next)).products.edges).toHaveLength(3);
  }, 120_000);
});
