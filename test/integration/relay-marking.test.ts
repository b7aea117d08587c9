// The relay marks the rows it published (published_at, stream_id) in the statement that reads its
// next batch, so a relay woken by one commit at a time runs one statement per commit instead of
// two; rows it published last are marked once nothing new came for a moment, or when it stops.
// Whatever the timing, every published row ends marked with the stream id its event got.
import { asc, gt, sql } from 'drizzle-orm';
import { outbox } from '../../src/db/schema';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { readStreamFields } from '../support/streams';
import { waitUntil } from '../../src/testing/wait';

const SETTLE_BOUND_MS = 10_000;

let gateway: TestGateway;
let aliceToken: string;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 10, products: 10, orders: 10 } });
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

test('a relay that stops marks the rows it published last', async () => {
  const before = await lastOutboxId();
  await placeOrder();
  // At once: the relay has published the row and would mark it with its next batch.
  await gateway.app.relay.stop();
  const [row] = await rowsAfter(before);
  expect(row?.publishedAt).toBeInstanceOf(Date);
  expect(row?.streamId).toEqual(expect.any(String));
});
