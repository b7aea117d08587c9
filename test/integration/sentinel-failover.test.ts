// A gateway on Redis Sentinel across a failover: the master SIGKILLed in the middle of a loop of
// writes (each followed by a read) with subscribers listening, the replica promoted. Mutations keep
// succeeding once the sentinels promoted it, every subscriber ends with exactly the events the
// stream holds, and no read is older than a write acknowledged before it. Then the loss that
// asynchronous replication allows (the old master acknowledged events the replica never received),
// injected deterministically: without the relay's re-check those events are gone from the stream;
// with it they are published again under the stream ids they first had, and subscribers that saw
// them once do not see them twice.
//
// Every Sentinel set-up here is the test's own whatever TEST_REDIS_TOPOLOGY says: it kills masters.
import { and, asc, eq, gt, isNotNull, sql } from 'drizzle-orm';
import Redis from 'ioredis';
import { outbox } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { postGraphQL } from '../support/graphql';
import { RESTOCK_PRODUCT } from '../support/documents';
import { startOwnSentinelSetup, type TestRedis } from '../support/redis-topology';
import type { SentinelSetup } from '../support/redis-sentinel';
import { readStream, streamTailOf } from '../support/streams';
import { startSubscriber, type TestSubscriber } from '../support/subscriber';
import { waitUntil } from '../support/wait';

const [admin] = demoAccounts as [(typeof demoAccounts)[0]];
const PRODUCT_ID = 1;
const PRODUCT_CHANGED = 'subscription ($id: ID!, $after: String) { productChanged(id: $id, after: $after) { cursor type product { id stock } } }';
const PRODUCT_STOCK = 'query ($id: ID!) { product(id: $id) { id stock } }';
/** Bounds on waiting, not speed targets. */
const SETTLE_BOUND_MS = 30_000;
/** A mutation whose event cannot be published (Redis away) returns after this. */
const PUBLISH_WAIT_MS = '500';

type SentinelRedis = TestRedis & { sentinel: SentinelSetup };

interface LoopFigures {
  mutations: number;
  /** Why mutations failed (distinct messages). */
  failures: string[];
  failedMutations: number;
  failedAfterPromotion: number;
  staleReads: number;
  failedReads: number;
  promotionMs: number;
  /** From the kill to the first mutation acknowledged (with its event published) on the new master. */
  recoveredMs: number;
}

async function restock(gateway: TestGateway, token: string): Promise<{ stock: number; elapsedMs: number } | Error> {
  const startedAt = Date.now();
  try {
    const response = await postGraphQL<{ restockProduct: { stock: number } }>(gateway, RESTOCK_PRODUCT, { variables: { id: String(PRODUCT_ID), quantity: 1 }, token });
    if (response.body.errors?.length || !response.body.data) return new Error(JSON.stringify(response.body.errors));
    return { stock: response.body.data.restockProduct.stock, elapsedMs: Date.now() - startedAt };
  } catch (error) {
    return error as Error;
  }
}

async function readStock(gateway: TestGateway): Promise<number | Error> {
  try {
    const response = await postGraphQL<{ product: { stock: number } }>(gateway, PRODUCT_STOCK, { variables: { id: String(PRODUCT_ID) } });
    if (response.body.errors?.length || !response.body.data?.product) return new Error(JSON.stringify(response.body.errors));
    return response.body.data.product.stock;
  } catch (error) {
    return error as Error;
  }
}

/** The product's outbox rows after `afterId` (Postgres: the truth), in id order. */
async function outboxRowsAfter(gateway: TestGateway, afterId: number) {
  return gateway.app.database.db
    .select({ id: outbox.id, eventId: outbox.eventId, streamId: outbox.streamId, publishedAt: outbox.publishedAt })
    .from(outbox)
    .where(and(gt(outbox.id, afterId), eq(outbox.aggregateType, 'Product'), eq(outbox.aggregateId, String(PRODUCT_ID))))
    .orderBy(asc(outbox.id));
}

async function lastOutboxId(gateway: TestGateway): Promise<number> {
  const [row] = await gateway.app.database.db.select({ id: sql<number>`coalesce(max(${outbox.id}), 0)::int` }).from(outbox);
  return Number(row?.id ?? 0);
}

/** The product's entries in the catalog stream after `afterId`, read on the current master. */
async function productEntries(connection: Redis, gateway: TestGateway, afterId: string) {
  const entries = await readStream(connection, gateway.app.keys.stream('catalog'), afterId);
  return entries.filter((entry) => entry.event.aggregate.type === 'Product' && entry.event.aggregate.id === String(PRODUCT_ID));
}

function duplicatesOf(values: string[]): number {
  return values.length - new Set(values).size;
}

let redis: SentinelRedis;
/** The test's own connection, through the sentinels (it follows the failover too). */
let control: Redis;

beforeAll(async () => {
  redis = await startOwnSentinelSetup();
  control = redis.connect({ maxRetriesPerRequest: null });
  control.on('error', () => undefined);
});

afterAll(async () => {
  control?.disconnect();
  await redis?.stop();
});

describe('a failover during a write-and-subscribe loop', () => {
  const SUBSCRIBERS = 3;
  const WRITES = 60;
  const KILL_AT = 20;
  let gateway: TestGateway;
  const subscribers: TestSubscriber[] = [];

  beforeAll(async () => {
    gateway = await startTestGateway({ redis, seed: { users: 5, products: 5, orders: 5 }, env: { OUTBOX_PUBLISH_WAIT_MS: PUBLISH_WAIT_MS } });
  });

  afterAll(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.dispose()));
    await gateway?.stop();
  });

  it('keeps writing, delivers exactly the stream to every subscriber, and never serves a read older than an acknowledged write', async () => {
    const token = await gateway.login(admin.email, admin.password);
    const after = await streamTailOf(redis, 'catalog');
    const firstOutboxId = await lastOutboxId(gateway);
    for (let index = 0; index < SUBSCRIBERS; index++) {
      subscribers.push(startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(PRODUCT_ID) }, after }));
    }
    await Promise.all(subscribers.map((subscriber) => subscriber.waitForConnections(1)));

    const figures: LoopFigures = { mutations: 0, failures: [], failedMutations: 0, failedAfterPromotion: 0, staleReads: 0, failedReads: 0, promotionMs: -1, recoveredMs: -1 };
    let killedAt = 0;
    let promoted = false;
    let promotion: Promise<unknown> = Promise.resolve();
    let acknowledgedStock = 0;
    for (let write = 1; write <= WRITES; write++) {
      if (write === KILL_AT) {
        const kill = await redis.sentinel.killMaster();
        killedAt = Date.now();
        promotion = kill.promotion.then((announced) => {
          promoted = true;
          figures.promotionMs = announced.afterMs;
        });
      }
      // Past the kill, go on only once the sentinels promoted someone: the figures then say what a
      // client sees after a promotion (during the outage, writes wait for the publish bound).
      if (killedAt && write === KILL_AT + 5) await promotion;
      const wasPromoted = promoted;
      const result = await restock(gateway, token);
      figures.mutations += 1;
      if (result instanceof Error) {
        figures.failedMutations += 1;
        if (!figures.failures.includes(result.message)) figures.failures.push(result.message);
        if (wasPromoted) figures.failedAfterPromotion += 1;
        continue;
      }
      acknowledgedStock = Math.max(acknowledgedStock, result.stock);
      if (wasPromoted && figures.recoveredMs < 0 && result.elapsedMs < Number(PUBLISH_WAIT_MS)) figures.recoveredMs = Date.now() - killedAt;
      const read = await readStock(gateway);
      if (read instanceof Error) figures.failedReads += 1;
      else if (read < acknowledgedStock) figures.staleReads += 1;
    }
    await promotion;

    // Settled: the relay drained the outbox onto the new master, and every subscriber has what the stream has.
    const rows = await outboxRowsAfter(gateway, firstOutboxId);
    await waitUntil(
      async () => (await gateway.app.database.db.select({ id: outbox.id }).from(outbox).where(and(gt(outbox.id, firstOutboxId), isNotNull(outbox.publishedAt)))).length >= rows.length,
      'the relay has published every row of the loop',
      SETTLE_BOUND_MS,
    );
    const entries = await productEntries(control, gateway, after);
    const streamIds = entries.map((entry) => entry.streamId);
    await waitUntil(async () => subscribers.every((subscriber) => subscriber.events.length >= entries.length), 'every subscriber has caught up', SETTLE_BOUND_MS).catch(
      (error: unknown) => {
        // What each subscriber had, to tell a lost event from a slow one.
        const state = subscribers.map((subscriber) => ({
          delivered: subscriber.events.length,
          missing: streamIds.filter((id) => !subscriber.events.some((event) => event.cursor === id)),
          errors: subscriber.errors,
          closes: subscriber.closes,
        }));
        console.log(`subscribers that did not catch up (${entries.length} events in the stream): ${JSON.stringify({ ...figures, state })}`);
        throw error;
      },
    );
    const delivered = subscribers.map((subscriber) => subscriber.events.map((event) => event.cursor));
    const missing = delivered.map((cursors) => streamIds.filter((id) => !cursors.includes(id)).length);
    const extra = delivered.map((cursors) => cursors.filter((id) => !streamIds.includes(id)).length);
    const duplicated = delivered.map(duplicatesOf);
    console.log(
      `sentinel failover figures: ${JSON.stringify({
        ...figures,
        eventsExpected: rows.length,
        eventsInStream: entries.length,
        eventsDeliveredPerSubscriber: delivered.map((cursors) => cursors.length),
        missingPerSubscriber: missing,
        notInStreamPerSubscriber: extra,
        duplicatedPerSubscriber: duplicated,
        republishedRows: gateway.app.relay.republishedRows,
      })}`,
    );

    expect(figures.promotionMs).toBeGreaterThan(0);
    expect(figures.failedAfterPromotion).toBe(0);
    expect(figures.recoveredMs).toBeGreaterThan(0);
    expect(figures.staleReads).toBe(0);
    // The stream holds every committed event once (Postgres is the truth)...
    expect(entries.map((entry) => entry.event.id)).toEqual(rows.map((row) => row.eventId));
    expect(duplicatesOf(streamIds)).toBe(0);
    // ...and every subscriber got exactly the stream: the same ids, in order, none twice.
    for (const cursors of delivered) expect(cursors).toEqual(streamIds);
  });
});

/**
 * Runs `write` (acknowledged writes), then puts the Redis back as a replica that never received
 * them would be: the catalog stream as it was before (DUMP/RESTORE keeps its last id too), the
 * published markers of the rows gone, the last published outbox id as it was. Deterministic, where
 * killing a master at the right instant is not. Returns the rows so lost.
 */
async function loseReplicationOf(gateway: TestGateway, write: () => Promise<void>) {
  const keys = gateway.app.keys;
  const stream = keys.stream('catalog');
  const dump = await control.dumpBuffer(stream);
  const lastPublished = await control.get(keys.lastPublishedOutboxId());
  const before = await lastOutboxId(gateway);
  await write();
  await waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the writes are published', SETTLE_BOUND_MS);
  const lost = await outboxRowsAfter(gateway, before);
  const pipeline = control.multi();
  if (dump) pipeline.restore(stream, 0, dump, 'REPLACE');
  else pipeline.del(stream);
  for (const row of lost) pipeline.del(keys.publishedOutboxRow(row.id));
  if (lastPublished) pipeline.set(keys.lastPublishedOutboxId(), lastPublished);
  else pipeline.del(keys.lastPublishedOutboxId());
  await pipeline.exec();
  return lost;
}

describe('events the old master acknowledged and the promoted replica never received', () => {
  const LOST = 3;
  const gateways: TestGateway[] = [];
  const subscribers: TestSubscriber[] = [];

  afterAll(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.dispose()));
    await Promise.all(gateways.map((gateway) => gateway.stop()));
  });

  /** A gateway of its own on the (promoted) master, under a prefix of its own, with a subscriber from now. */
  async function gatewayWithSubscriber(prefix: string, env: Record<string, string> = {}) {
    const gateway = await startTestGateway({ redis, seed: { users: 5, products: 5, orders: 5 }, env: { REDIS_PREFIX: prefix, ...env } });
    gateways.push(gateway);
    const token = await gateway.login(admin.email, admin.password);
    const after = (await readStream(control, gateway.app.keys.stream('catalog'))).at(-1)?.streamId ?? '0-0';
    const subscriber = startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(PRODUCT_ID) }, after });
    subscribers.push(subscriber);
    await subscriber.waitForConnections(1);
    const writeAndWait = async (count: number) => {
      const expected = subscriber.events.length + count;
      for (let index = 0; index < count; index++) expect(await restock(gateway, token)).not.toBeInstanceOf(Error);
      await subscriber.waitForEvents(expected);
    };
    return { gateway, token, after, subscriber, writeAndWait };
  }

  it('are lost from the stream for good without the relay re-check', async () => {
    const { gateway, after, subscriber, writeAndWait } = await gatewayWithSubscriber('sgnorecheck', { OUTBOX_RECHECK_WINDOW_SECONDS: '0' });
    await writeAndWait(2);
    const lost = await loseReplicationOf(gateway, () => writeAndWait(LOST));
    await writeAndWait(1);

    const inStream = (await productEntries(control, gateway, after)).map((entry) => entry.event.id);
    const published = await outboxRowsAfter(gateway, 0);
    const missing = published.filter((row) => !inStream.includes(row.eventId));
    console.log(`without the re-check: ${JSON.stringify({ committed: published.length, inStream: inStream.length, lostForGood: missing.length })}`);
    // Postgres says published; the stream no longer holds them, and a client resuming from before never sees them.
    expect(missing.map((row) => row.id)).toEqual(lost.map((row) => row.id));
    expect(published.every((row) => row.publishedAt !== null)).toBe(true);
    const lostCursors = lost.map((row) => row.streamId!);
    expect(subscriber.events.map((event) => event.cursor)).toEqual(expect.arrayContaining(lostCursors));
    const resumed = startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(PRODUCT_ID) }, after });
    subscribers.push(resumed);
    await resumed.waitForEvents(inStream.length);
    expect(resumed.events.map((event) => event.cursor).filter((cursor) => lostCursors.includes(cursor))).toEqual([]);
  });

  it('are published again under their first stream ids with it: on the reconnect to the new master, and on the next write', async () => {
    const { gateway, after, subscriber, writeAndWait } = await gatewayWithSubscriber('sgrecheck');
    await writeAndWait(2);

    // 1. The relay's connection comes back (as it does on a failover): it compares, and republishes.
    const lostOnReconnect = await loseReplicationOf(gateway, () => writeAndWait(LOST));
    gateway.app.redisConnections.command.disconnect(true);
    await waitUntil(async () => gateway.app.relay.republishedRows >= LOST, 'the relay republished the lost rows after its reconnect', SETTLE_BOUND_MS);

    // 2. No reconnect: the next publish is refused (LOSTWRITES) until the lost rows are back, so nothing newer overtakes them.
    const lostBeforeWrite = await loseReplicationOf(gateway, () => writeAndWait(LOST));
    await writeAndWait(1);
    expect(gateway.app.relay.republishedRows).toBe(2 * LOST);

    const entries = await productEntries(control, gateway, after);
    const published = await outboxRowsAfter(gateway, 0);
    const streamIds = entries.map((entry) => entry.streamId);
    // The stream holds every committed event once, in outbox order, under the ids the rows first got.
    expect(entries.map((entry) => entry.event.id)).toEqual(published.map((row) => row.eventId));
    expect(streamIds).toEqual(published.map((row) => row.streamId));
    for (const row of [...lostOnReconnect, ...lostBeforeWrite]) expect(streamIds).toContain(row.streamId);
    // The subscriber that saw them from the old master did not see them twice; a client resuming from before gets them all.
    expect(subscriber.events.map((event) => event.cursor)).toEqual(streamIds);
    const resumed = startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(PRODUCT_ID) }, after });
    subscribers.push(resumed);
    await resumed.waitForEvents(streamIds.length);
    expect(resumed.events.map((event) => event.cursor)).toEqual(streamIds);
    console.log(`with the re-check: ${JSON.stringify({ committed: published.length, inStream: entries.length, republished: gateway.app.relay.republishedRows, duplicated: duplicatesOf(subscriber.events.map((event) => event.cursor)) })}`);
  });
});
