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
import { demoAccounts } from '../../src/db/seed';
import { startTestGateway, type TestGateway } from '../support/gateway';
import {
  duplicatesOf,
  failoverLoopScenario,
  FAILOVER_PRODUCT_ID,
  lastOutboxId,
  outboxRowsAfter,
  ownFailoverRedis,
  PRODUCT_CHANGED,
  productEntries,
  restock,
  SETTLE_BOUND_MS,
} from '../support/failover-loop';
import { startOwnSentinelSetup } from '../../src/testing/redis-topology';
import { readStream } from '../support/streams';
import { startSubscriber, type TestSubscriber } from '../support/subscriber';
import { waitUntil } from '../../src/testing/wait';

const [admin] = demoAccounts as [(typeof demoAccounts)[0]];

/** The file's own Sentinel set-up, and the test's own connection through the sentinels (it follows the failover too). */
const { redis, control } = ownFailoverRedis(() => startOwnSentinelSetup());

describe('a failover during a write-and-subscribe loop', () => {
  failoverLoopScenario({ label: 'sentinel failover', redis, control, kill: () => redis().sentinel.killMaster() });
});

/** Every committed row is published and marked so in PostgreSQL (the relay marks a little after it publishes). */
const relaySettled = (gateway: TestGateway) => waitUntil(async () => (await gateway.app.relay.backlog()) === 0, 'the writes are published and marked', SETTLE_BOUND_MS);

/**
 * Runs `write` (acknowledged writes), then puts the Redis back as a replica that never received
 * them would be: the catalog stream as it was before (DUMP/RESTORE keeps its last id too), the
 * published markers of the rows gone, the last published outbox id as it was. Deterministic, where
 * killing a master at the right instant is not. Returns the rows so lost.
 */
async function loseReplicationOf(gateway: TestGateway, write: () => Promise<void>) {
  const keys = gateway.app.keys;
  const stream = keys.stream('catalog');
  const dump = await control().dumpBuffer(stream);
  const lastPublished = await control().get(keys.lastPublishedOutboxId());
  const before = await lastOutboxId(gateway);
  await write();
  await relaySettled(gateway);
  const lost = await outboxRowsAfter(gateway, before);
  const pipeline = control().multi();
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
    const gateway = await startTestGateway({ redis: redis(), seed: { users: 5, products: 5, orders: 5 }, env: { REDIS_PREFIX: prefix, ...env } });
    gateways.push(gateway);
    const token = await gateway.login(admin.email, admin.password);
    const after = (await readStream(control(), gateway.app.keys.stream('catalog'))).at(-1)?.streamId ?? '0-0';
    const subscriber = startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(FAILOVER_PRODUCT_ID) }, after });
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
    await relaySettled(gateway);

    const inStream = (await productEntries(control(), gateway, after)).map((entry) => entry.event.id);
    const published = await outboxRowsAfter(gateway, 0);
    const missing = published.filter((row) => !inStream.includes(row.eventId));
    console.log(`without the re-check: ${JSON.stringify({ committed: published.length, inStream: inStream.length, lostForGood: missing.length })}`);
    // Postgres says published; the stream no longer holds them, and a client resuming from before never sees them.
    expect(missing.map((row) => row.id)).toEqual(lost.map((row) => row.id));
    expect(published.every((row) => row.publishedAt !== null)).toBe(true);
    const lostCursors = lost.map((row) => row.streamId!);
    expect(subscriber.events.map((event) => event.cursor)).toEqual(expect.arrayContaining(lostCursors));
    const resumed = startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(FAILOVER_PRODUCT_ID) }, after });
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
    await relaySettled(gateway);

    const entries = await productEntries(control(), gateway, after);
    const published = await outboxRowsAfter(gateway, 0);
    const streamIds = entries.map((entry) => entry.streamId);
    // The stream holds every committed event once, in outbox order, under the ids the rows first got.
    expect(entries.map((entry) => entry.event.id)).toEqual(published.map((row) => row.eventId));
    expect(streamIds).toEqual(published.map((row) => row.streamId));
    for (const row of [...lostOnReconnect, ...lostBeforeWrite]) expect(streamIds).toContain(row.streamId);
    // The subscriber that saw them from the old master did not see them twice; a client resuming from before gets them all.
    expect(subscriber.events.map((event) => event.cursor)).toEqual(streamIds);
    const resumed = startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(FAILOVER_PRODUCT_ID) }, after });
    subscribers.push(resumed);
    await resumed.waitForEvents(streamIds.length);
    expect(resumed.events.map((event) => event.cursor)).toEqual(streamIds);
    console.log(`with the re-check: ${JSON.stringify({ committed: published.length, inStream: entries.length, republished: gateway.app.relay.republishedRows, duplicated: duplicatesOf(subscriber.events.map((event) => event.cursor)) })}`);
  });
});
