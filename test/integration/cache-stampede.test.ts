// Stampede protection across replicas: a wave of concurrent requests for one cold product, split
// over two replicas sharing one Redis and one database, costs one database read (the lease holder's)
// while every other reader waits briefly and reads the value it wrote back. Without the wait
// (CACHE_LEASE_WAIT_MS=0) the same wave goes to the database many times, which shows the bound
// below measures the leases and not a lucky schedule.
import { productCacheType } from '../../src/modules/catalog/product.loader';
import { entityKeys } from '../support/cache-entries';
import { eq } from 'drizzle-orm';
import { products } from '../../src/db/schema';
import { createOperationRunner } from '../support/operations';
import { startTwoGateways, type TwoGateways } from '../support/two-gateways';

const REQUESTS_PER_REPLICA = 250;

let pair: TwoGateways;

beforeAll(async () => {
  // Patient leases: on a busy machine the holder's load can take longer than the 1 s default wait,
  // and readers that give up read the database (the bound below is about leases, not speed).
  pair = await startTwoGateways({ seed: { users: 10, products: 20, orders: 20 }, env: { CACHE_LEASE_WAIT_MS: '10000', CACHE_LEASE_TTL_MS: '20000' } });
});

afterAll(() => pair?.stop());

interface WaveResult {
  names: Array<string | undefined>;
  errors: unknown[];
  /** SQL statements both replicas ran during the wave. */
  statements: number;
}

/**
 * Starts every request of the wave at once, half on each replica. They run through each replica's
 * Apollo Server (executeOperation, a fresh context and loaders per request) rather than HTTP: both
 * replicas share this one process, where parsing 500 HTTP requests one after another spreads the
 * wave over a second or so and the first reader's write-back lands before most others even ask
 * (measured: one lease wait in 500, and only 2 statements even without leases). Separate replica
 * processes would overlap for real; executeOperation overlaps the requests the same way here.
 */
async function productWave(pair: TwoGateways, id: number): Promise<WaveResult> {
  const runners = [pair.a, pair.b].map((gateway) => createOperationRunner(gateway.app));
  const statementsBefore = pair.sqlStatements();
  const results = await Promise.all(
    runners.flatMap((execute) =>
      Array.from({ length: REQUESTS_PER_REPLICA }, () => execute<{ product: { name: string } | null }>(`{ product(id: "${id}") { name } }`)),
    ),
  );
  return {
    names: results.map((result) => result.data?.product?.name),
    errors: results.flatMap((result) => result.errors ?? []),
    statements: pair.sqlStatements() - statementsBefore,
  };
}

async function expectCold(pair: TwoGateways, id: number): Promise<string> {
  const { value, lease } = entityKeys(pair.a.app.keys, productCacheType, id);
  expect(await pair.a.app.redis.exists(value, lease)).toBe(0);
  const [row] = await pair.database.db.select({ name: products.name }).from(products).where(eq(products.id, id));
  return row!.name;
}

const productCounter = (pair: TwoGateways, name: 'misses' | 'leaseWaits' | 'leaseWaitTimeouts' | 'writeBacks') =>
  [pair.a, pair.b].reduce((sum, gateway) => sum + (gateway.app.cacheStats.byType.get('Product')?.[name] ?? 0), 0);

it('answers 500 concurrent reads of one cold product on two replicas with at most 2 SQL statements', async () => {
  const name = await expectCold(pair, 7);
  const wave = await productWave(pair, 7);
  expect(wave.errors).toEqual([]);
  expect(wave.names).toEqual(Array(2 * REQUESTS_PER_REPLICA).fill(name));
  expect(wave.statements).toBeLessThanOrEqual(2);
  // The wave really overlapped: most requests found the product cold on their first look (each of
  // them would have read the database without leases), and every one of those but the lease holders
  // waited. Not all 500: on a busy machine the last few can start after the write-back and hit.
  const misses = productCounter(pair, 'misses');
  expect(misses).toBeGreaterThan(REQUESTS_PER_REPLICA);
  expect(productCounter(pair, 'leaseWaits')).toBeGreaterThanOrEqual(misses - wave.statements);
  expect(productCounter(pair, 'leaseWaitTimeouts')).toBe(0);
  expect(productCounter(pair, 'writeBacks')).toBeGreaterThanOrEqual(1);
});

it('goes to the database many times for the same wave when readers do not wait for leases', async () => {
  // Two more replicas on the same Redis and database, whose readers skip waiting for another's lease.
  const impatient = await startTwoGateways({ env: { CACHE_LEASE_WAIT_MS: '0' }, redis: pair.redis, database: pair.database });
  try {
    const name = await expectCold(impatient, 8);
    const wave = await productWave(impatient, 8);
    expect(wave.errors).toEqual([]);
    expect(wave.names).toEqual(Array(2 * REQUESTS_PER_REPLICA).fill(name));
    expect(wave.statements).toBeGreaterThan(2);
    expect(productCounter(impatient, 'leaseWaitTimeouts')).toBeGreaterThan(2);
  } finally {
    await impatient.stop();
  }
});
