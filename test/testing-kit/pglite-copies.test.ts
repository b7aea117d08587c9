// A later gateway of the same Jest worker takes the PGlite copy an earlier one closed, with the
// snapshot's rows put back (src/testing/pglite-copies.ts), instead of loading a new copy: only a
// copy the snapshot's rows fully describe again is taken. A copy whose catalog a test changed is
// closed, and what a session set is gone. On PostgreSQL every gateway has a database of its own.
import { sql } from 'drizzle-orm';
import { createTestGateway, type TestGateway } from 'streamgate/testing';

const onPglite = !process.env.DATABASE_URL;
const maybe = onPglite ? test : test.skip;

/** The transaction counter: a copy that served a gateway has moved past a freshly loaded one. */
async function transactionCounter(gateway: TestGateway): Promise<number> {
  const { rows } = (await gateway.app.database.db.execute(sql`select txid_current()::text as id`)) as unknown as { rows: { id: string }[] };
  return Number(rows[0]!.id);
}

async function rename(gateway: TestGateway, times: number): Promise<void> {
  for (let round = 0; round < times; round += 1) {
    await gateway.execute(`mutation { updateProduct(id: "1", input: { name: "Renamed ${round}" }) { name } }`, { as: 'admin' });
  }
}

const PRODUCT_NAME = 'query { product(id: "1") { name } }';

maybe('a closed copy serves the next gateway with the snapshot\'s rows, not the writes it saw', async () => {
  const first = await createTestGateway();
  const original = (await first.execute(PRODUCT_NAME)).data;
  await rename(first, 5);
  const counterAfterWrites = await transactionCounter(first);
  await first.close();

  const second = await createTestGateway();
  try {
    // Taken, not loaded again: its transactions continue from the first gateway's.
    expect(await transactionCounter(second)).toBeGreaterThan(counterAfterWrites);
    expect((await second.execute(PRODUCT_NAME)).data).toEqual(original);
  } finally {
    await second.close();
  }
});

maybe('a copy whose catalog a test changed is not taken, and a session setting does not outlive its gateway', async () => {
  const first = await createTestGateway();
  await rename(first, 5);
  const counterAfterWrites = await transactionCounter(first);
  await first.app.database.db.execute(sql`create table left_behind (id int)`);
  await first.close();

  const second = await createTestGateway();
  try {
    expect(await transactionCounter(second)).toBeLessThan(counterAfterWrites);
    const { rows } = (await second.app.database.db.execute(sql`select to_regclass('public.left_behind')::text as name`)) as unknown as { rows: { name: string | null }[] };
    expect(rows[0]!.name).toBeNull();
    await second.app.database.db.execute(sql`set application_name = 'left by a test'`);
  } finally {
    await second.close();
  }

  const third = await createTestGateway();
  try {
    const { rows } = (await third.app.database.db.execute(sql`select current_setting('application_name') as name`)) as unknown as { rows: { name: string }[] };
    expect(rows[0]!.name).not.toBe('left by a test');
  } finally {
    await third.close();
  }
});
