// The relay marks the rows it published (published_at, stream_id) in the statement that reads its
// next batch, so a relay woken by one commit at a time runs one statement per commit instead of
// two; rows it published last are marked once nothing new came for a moment, or when it stops.
// Whatever the timing, every published row ends marked with the stream id its event got.
import { randomUUID } from 'node:crypto';
import { asc, gt, sql } from 'drizzle-orm';
import { mintDatabaseIdentity } from '../../src/db/identity';
import { outbox } from '../../src/db/schema';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { readStreamFields } from '../support/streams';
import { waitUntil } from '../../src/testing/wait';

const SETTLE_BOUND_MS = 10_000;

let gateway: TestGateway;
let aliceToken: string;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 10, orders: 10 } });
});

// Each test logs in: the restore test gives the database a new identity, which ends every session.
beforeEach(async () => {
  aliceToken = await gateway.login('alice@streamgate.dev', 'alice-password');
});

afterAll(async () => {
  await gateway?.stop();
});

const db = () => gateway.database.db;

async function lastOutboxId(): Promise<number> {
  const [row] = await db().select({ id: sql<number>`coalesce(max(${outbox.id}), 0)::int` }).from(outbox);
  return Number(row!.id);
}

/** Places an order; the mutation answers once its event is published. */
async function placeOrder(): Promise<void> {
  const { body } = await gateway.graphql<{ placeOrder: { id: string } }>('mutation { placeOrder(input: { items: [{ productId: 1, quantity: 1 }] }) { id } }', { token: aliceToken });
  expect(body.errors).toBeUndefined();
}

const rowsAfter = (id: number) =>
  db().select({ id: outbox.id, eventId: outbox.eventId, stream: outbox.stream, publishedAt: outbox.publishedAt, streamId: outbox.streamId }).from(outbox).where(gt(outbox.id, id)).orderBy(asc(outbox.id));

test('rows published one commit at a time all end marked, each with the stream id its event got', async () => {
  const before = await lastOutboxId();
  const skippedBefore = gateway.app.relay.skippedRows;
  for (let index = 0; index < 5; index++) await placeOrder();
  await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'every row is marked', SETTLE_BOUND_MS);
  const rows = await rowsAfter(before);
  expect(rows).toHaveLength(5);
  // The batch that marks rows does not read them again as unpublished (they would be sent again, and skipped).
  expect(gateway.app.relay.skippedRows).toBe(skippedBefore);
  const entries = await readStreamFields(gateway.app.redis, gateway.app.keys.stream(rows[0]!.stream));
  const streamIdOf = new Map(entries.map((entry) => [entry.fields.eventId, entry.streamId]));
  for (const row of rows) {
    expect(row.publishedAt).toBeInstanceOf(Date);
    expect(row.streamId).toBe(streamIdOf.get(row.eventId));
  }
});

// A database restored (or reseeded) while rows the relay published are still unmarked: the restored
// database has other rows under the same outbox ids. Marking them would leave them unpublished for
// good; the marking names the database identity the rows were published from, and marks nothing
// in another. The relay is kept from marking by a trigger until the restore is done.
test('rows published from a database since restored are not marked in the restored one', async () => {
  await db().execute(sql.raw('create table relay_mark_block (blocked boolean)'));
  await db().execute(sql.raw('insert into relay_mark_block values (true)'));
  await db().execute(sql.raw('create sequence relay_mark_attempts'));
  await db().execute(
    sql.raw(`create function block_relay_mark() returns trigger language plpgsql as $$
      begin
        perform nextval('relay_mark_attempts');
        if exists (select 1 from relay_mark_block) then raise exception 'injected: marking blocked'; end if;
        return new;
      end $$`),
  );
  await db().execute(sql.raw('create trigger block_relay_mark before update of published_at on outbox for each row when (new.published_at is not null) execute function block_relay_mark()'));
  try {
    const before = await lastOutboxId();
    await placeOrder();
    await waitUntil(async () => (await attemptsToMark()) >= 1, 'the relay tried to mark the row it published', SETTLE_BOUND_MS);
    const [published] = await rowsAfter(before);

    // The restore: the same outbox id, another event, another identity.
    const restoredEventId = randomUUID();
    await db().transaction(async (tx) => {
      await tx.execute(sql`delete from outbox where id > ${before}`);
      await tx.execute(sql`insert into outbox (id, event_id, stream, type, aggregate_type, aggregate_id, payload, invalidations)
        values (${published!.id}, ${restoredEventId}, ${published!.stream}, 'OrderPlaced', 'Order', '0', ${JSON.stringify({ id: restoredEventId, type: 'OrderPlaced', aggregate: { type: 'Order', id: '0' }, data: {} })}::jsonb, '[]'::jsonb)`);
    });
    const restoredIdentity = await mintDatabaseIdentity(db(), gateway.app.identity.current);
    await db().execute(sql.raw('delete from relay_mark_block'));

    await waitUntil(async () => gateway.app.identity.current === restoredIdentity && (await gateway.app.relay.backlog()) === 0, 'the restored row is published', SETTLE_BOUND_MS);
    const entries = await readStreamFields(gateway.app.redis, gateway.app.keys.stream(published!.stream));
    expect(entries.map((entry) => entry.fields.eventId)).toContain(restoredEventId);
  } finally {
    await db().execute(sql.raw('drop trigger block_relay_mark on outbox'));
    await db().execute(sql.raw('drop function block_relay_mark'));
    await db().execute(sql.raw('drop sequence relay_mark_attempts'));
    await db().execute(sql.raw('drop table relay_mark_block'));
  }
});

// Last: it stops the relay.
test('a relay that stops marks the rows it published last', async () => {
  const before = await lastOutboxId();
  await placeOrder();
  // At once: the relay has published the row and would mark it with its next batch.
  await gateway.app.relay.stop();
  const [row] = await rowsAfter(before);
  expect(row?.publishedAt).toBeInstanceOf(Date);
  expect(row?.streamId).toEqual(expect.any(String));
});

async function attemptsToMark(): Promise<number> {
  const [row] = await db().select({ value: sql<number>`last_value::int` }).from(sql`relay_mark_attempts`);
  return Number(row?.value ?? 0);
}
