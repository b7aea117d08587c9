// Issue 4, test 4: the relay dies after its publish script ran (XADD done) and before it marked the
// outbox row. The row is still unpublished, so the next relay publishes it again; the script's
// published-row marker makes that a no-op that returns the first stream id: no duplicate entry, and
// the row ends marked with the id of the first XADD. Without the marker the same republish does
// duplicate the entry, which shows it is the marker that prevents it.
//
// The crash is simulated deterministically, twice: the app's relay itself fails its first update of
// the row (a trigger), then retries; and, with the app's relay stopped, the publish script is run
// once for a committed row exactly as the relay publishes it (RowPublisher) before a relay starts again.
import { asc, eq, sql } from 'drizzle-orm';
import { outbox, type OutboxRow } from '../../src/db/schema';
import { RowPublisher } from '../../src/events/row-publisher';
import { defineCacheScripts, defineEventScripts } from '../../src/redis/scripts';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { readStreamFields } from '../support/streams';
import { waitUntil } from '../../src/testing/wait';

/** The mutation returns after this wait: nothing publishes while the relay is "crashed". */
const PUBLISH_WAIT_MS = 200;
const DRAIN_BOUND_MS = 10_000;

let gateway: TestGateway;
let aliceToken: string;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 10, orders: 10 }, env: { OUTBOX_PUBLISH_WAIT_MS: String(PUBLISH_WAIT_MS) } });
  aliceToken = await gateway.login('alice@streamgate.dev', 'alice-password');
});

afterAll(async () => {
  await gateway?.stop();
});

const db = () => gateway.database.db;
const keys = () => gateway.app.keys;
const eventScripts = () => defineEventScripts(gateway.app.redis);

/** The relay's own publish (invalidations, then the script): RowPublisher, as the app's relay builds it. */
async function publishAsTheRelayWould(row: OutboxRow): Promise<unknown> {
  const publisher = new RowPublisher({ redis: eventScripts(), cache: defineCacheScripts(gateway.app.redisConnections.cache), keys: keys(), identity: gateway.app.identity });
  const [[error, reply]] = (await publisher.publish([row])) as [[Error | null, unknown]];
  if (error) throw error;
  // The script replies [stream id, published now ? 1 : 0, message]; the stream id is what the relay records.
  return (reply as [string, number])[0];
}

async function copiesInStream(row: OutboxRow): Promise<string[]> {
  const entries = await readStreamFields(gateway.app.redis, keys().stream(row.stream));
  return entries.filter((entry) => entry.fields.eventId === row.eventId).map((entry) => entry.streamId);
}

async function outboxRow(outboxId: number): Promise<OutboxRow> {
  const [row] = await db().select().from(outbox).where(eq(outbox.id, outboxId));
  return row!;
}

async function placeOrderWithRelayDown(): Promise<OutboxRow> {
  const [before] = await db().select({ id: sql<number>`coalesce(max(${outbox.id}), 0)::int` }).from(outbox);
  const { body } = await gateway.graphql<{ placeOrder: { id: string } }>(
    'mutation ($items: [OrderLineInput!]!) { placeOrder(input: { items: $items }) { id } }',
    { variables: { items: [{ productId: '1', quantity: 1 }] }, token: aliceToken },
  );
  expect(body.errors).toBeUndefined();
  const rows = await db().select().from(outbox).where(sql`${outbox.id} > ${before!.id}`).orderBy(asc(outbox.id));
  expect(rows).toHaveLength(1);
  const [row] = rows;
  expect(row).toMatchObject({ type: 'OrderPlaced', aggregateId: body.data!.placeOrder.id, publishedAt: null, streamId: null });
  return row!;
}

it('survives its own failure between the publish script and the row update: one entry, the first stream id', async () => {
  await db().execute(sql`update products set stock = 100 where id = 1`);
  // The relay's first attempt to mark a row fails (the process "died" after XADD); the sequence is
  // not transactional, so it also counts the attempts.
  await db().execute(sql.raw('create sequence relay_mark_attempts'));
  await db().execute(sql.raw(`
    create function fail_first_relay_mark() returns trigger language plpgsql as $$
    begin
      if nextval('relay_mark_attempts') = 1 then raise exception 'injected: the relay died before marking the row'; end if;
      return new;
    end $$`));
  await db().execute(sql.raw(`
    create trigger fail_first_relay_mark before update of published_at on outbox
    for each row when (new.published_at is not null) execute function fail_first_relay_mark()`));
  try {
    const [before] = await db().select({ id: sql<number>`coalesce(max(${outbox.id}), 0)::int` }).from(outbox);
    const { body } = await gateway.graphql<{ placeOrder: { id: string } }>(
      'mutation ($items: [OrderLineInput!]!) { placeOrder(input: { items: $items }) { id } }',
      { variables: { items: [{ productId: '1', quantity: 1 }] }, token: aliceToken },
    );
    expect(body.errors).toBeUndefined();
    const [row] = await db().select().from(outbox).where(sql`${outbox.id} > ${before!.id}`);
    await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the relay marked the row on its retry', DRAIN_BOUND_MS);

    const [attempts] = await db().select({ value: sql<number>`last_value::int` }).from(sql`relay_mark_attempts`);
    expect(attempts!.value).toBe(2);
    const firstStreamId = await gateway.app.redis.get(keys().publishedOutboxRow(row!.id));
    expect(await copiesInStream(row!)).toEqual([firstStreamId]);
    expect(await outboxRow(row!.id)).toMatchObject({ streamId: firstStreamId, publishedAt: expect.any(Date) });
  } finally {
    await db().execute(sql.raw('drop trigger fail_first_relay_mark on outbox'));
    await db().execute(sql.raw('drop function fail_first_relay_mark()'));
    await db().execute(sql.raw('drop sequence relay_mark_attempts'));
  }
});

it('publishes a row whose first publish was never marked exactly once, marked with the first stream id', async () => {
  await db().execute(sql`update products set stock = 100 where id = 1`);
  await gateway.app.relay.stop();
  const row = await placeOrderWithRelayDown();
  expect(await gateway.app.relay.backlog()).toBe(1);

  // The crash: the script ran (XADD, invalidations, announcement), the row update never came.
  const firstStreamId = await publishAsTheRelayWould(row);
  expect(await copiesInStream(row)).toEqual([firstStreamId]);
  expect(await outboxRow(row.id)).toMatchObject({ publishedAt: null, streamId: null });
  expect(await gateway.app.redis.get(keys().publishedOutboxRow(row.id))).toBe(firstStreamId);

  // The restarted relay finds the row unpublished and publishes it again.
  const skippedBefore = gateway.app.relay.skippedRows;
  await gateway.app.relay.start();
  await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the restarted relay marked the row', DRAIN_BOUND_MS);

  expect(await copiesInStream(row)).toEqual([firstStreamId]);
  expect(await outboxRow(row.id)).toMatchObject({ streamId: firstStreamId, publishedAt: expect.any(Date) });
  // Not silent: the skip is counted (and logged with the outbox id), for /metrics.
  expect(gateway.app.relay.skippedRows).toBe(skippedBefore + 1);
});

it('would duplicate the entry without the published-row marker', async () => {
  await gateway.app.relay.stop();
  const row = await placeOrderWithRelayDown();

  const firstStreamId = await publishAsTheRelayWould(row);
  // Publishing again while the marker is there is the no-op the relay relies on...
  expect(await publishAsTheRelayWould(row)).toBe(firstStreamId);
  expect(await copiesInStream(row)).toEqual([firstStreamId]);

  // ...and once the marker is gone (as if the script only XADDed), the same republish duplicates it.
  await gateway.app.redis.del(keys().publishedOutboxRow(row.id));
  const secondStreamId = await publishAsTheRelayWould(row);
  expect(secondStreamId).not.toBe(firstStreamId);
  expect(await copiesInStream(row)).toEqual([firstStreamId, secondStreamId]);

  await gateway.app.relay.start();
  await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the restarted relay marked the row', DRAIN_BOUND_MS);
  expect(await outboxRow(row.id)).toMatchObject({ streamId: secondStreamId });
  expect(await copiesInStream(row)).toEqual([firstStreamId, secondStreamId]);
});
