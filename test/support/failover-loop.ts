// A Redis failover in the middle of traffic, as Sentinel and Cluster tests both run it: a loop of
// writes (restocking one product, each followed by a read of it) with subscribers listening to the
// product, a master SIGKILLed part way, a replica promoted. Reports what a client saw (failed
// mutations, stale reads, time to recover) and what the subscribers got against the stream and
// Postgres (the truth), and checks the guarantees: no read older than an acknowledged write, every
// committed event in the stream once, every subscriber exactly the stream.
import { and, asc, eq, gt, isNotNull, sql } from 'drizzle-orm';
import { outbox } from '../../src/db/schema';
import { demoAccounts } from '../../src/db/seed';
import type { RedisClient } from '../../src/redis/client';
import { RESTOCK_PRODUCT } from './documents';
import type { TestGateway } from './gateway';
import { postGraphQL } from './graphql';
import type { Promotion } from '../../src/testing/redis-sentinel';
import type { TestRedis } from '../../src/testing/redis-topology';
import { readStream, streamTailOf } from './streams';
import { startTestGateway } from './gateway';
import { startSubscriber, type TestSubscriber } from './subscriber';
import { waitUntil } from '../../src/testing/wait';

const [admin] = demoAccounts as [(typeof demoAccounts)[0]];
export const FAILOVER_PRODUCT_ID = 1;
export const PRODUCT_CHANGED = 'subscription ($id: ID!, $after: String) { productChanged(id: $id, after: $after) { cursor type product { id stock } } }';
const PRODUCT_STOCK = 'query ($id: ID!) { product(id: $id) { id stock } }';
/** Bounds on waiting, not speed targets (a CI machine running two test files at once is slow). */
export const SETTLE_BOUND_MS = 45_000;
/** The gateway's OUTBOX_PUBLISH_WAIT_MS here: a mutation whose event cannot be published (Redis away) returns after this. */
export const PUBLISH_WAIT_MS = '500';

export interface LoopFigures {
  mutations: number;
  /** Why mutations failed (distinct messages). */
  failures: string[];
  failedMutations: number;
  /** Failed once a replica was promoted and the gateway had reconnected to it. */
  failedAfterPromotion: number;
  staleReads: number;
  /** What each stale read was: which write it followed, what it read, when. */
  staleReadDetails: Array<{ write: number; read: number; acknowledged: number; mutationMs: number; sinceKillMs: number | null; wasPromoted: boolean }>;
  failedReads: number;
  promotionMs: number;
  /** From the kill to the first mutation acknowledged (with its event published) after the promotion. */
  recoveredMs: number;
}

export interface FailoverReport {
  figures: LoopFigures;
  /** The event ids Postgres committed in the loop, in outbox order. */
  committedEventIds: string[];
  /** The product's stream entries after the loop began: event ids and stream ids. */
  streamEventIds: string[];
  streamIds: string[];
  /** Per subscriber, the cursors it got. */
  delivered: string[][];
}

export async function restock(gateway: TestGateway, token: string): Promise<{ stock: number; elapsedMs: number } | Error> {
  const startedAt = Date.now();
  try {
    const response = await postGraphQL<{ restockProduct: { stock: number } }>(gateway, RESTOCK_PRODUCT, { variables: { id: String(FAILOVER_PRODUCT_ID), quantity: 1 }, token });
    if (response.body.errors?.length || !response.body.data) return new Error(JSON.stringify(response.body.errors));
    return { stock: response.body.data.restockProduct.stock, elapsedMs: Date.now() - startedAt };
  } catch (error) {
    return error as Error;
  }
}

async function readStock(gateway: TestGateway): Promise<number | Error> {
  try {
    const response = await postGraphQL<{ product: { stock: number } }>(gateway, PRODUCT_STOCK, { variables: { id: String(FAILOVER_PRODUCT_ID) } });
    if (response.body.errors?.length || !response.body.data?.product) return new Error(JSON.stringify(response.body.errors));
    return response.body.data.product.stock;
  } catch (error) {
    return error as Error;
  }
}

/** The product's outbox rows after `afterId` (Postgres: the truth), in id order. */
export async function outboxRowsAfter(gateway: TestGateway, afterId: number) {
  return gateway.app.database.db
    .select({ id: outbox.id, eventId: outbox.eventId, streamId: outbox.streamId, publishedAt: outbox.publishedAt })
    .from(outbox)
    .where(and(gt(outbox.id, afterId), eq(outbox.aggregateType, 'Product'), eq(outbox.aggregateId, String(FAILOVER_PRODUCT_ID))))
    .orderBy(asc(outbox.id));
}

export async function lastOutboxId(gateway: TestGateway): Promise<number> {
  const [row] = await gateway.app.database.db.select({ id: sql<number>`coalesce(max(${outbox.id}), 0)::int` }).from(outbox);
  return Number(row?.id ?? 0);
}

/** The product's entries in the catalog stream after `afterId`. */
export async function productEntries(connection: RedisClient, gateway: TestGateway, afterId: string) {
  const entries = await readStream(connection, gateway.app.keys.stream('catalog'), afterId);
  // A boundary entry (no event) says a process took the database for a replaced one: it never was.
  const boundaries = entries.filter((entry) => entry.event === null).map((entry) => entry.fields);
  if (boundaries.length > 0) throw new Error(`the stream got database boundaries: ${JSON.stringify(boundaries)}`);
  return entries.filter((entry) => entry.event.aggregate.type === 'Product' && entry.event.aggregate.id === String(FAILOVER_PRODUCT_ID));
}

export function duplicatesOf(values: string[]): number {
  return values.length - new Set(values).size;
}

export interface FailoverLoopOptions {
  /** Names the figures in the output ("sentinel failover", "cluster failover"). */
  label: string;
  gateway: TestGateway;
  redis: TestRedis;
  /** The test's own connection, which follows the failover. */
  control: RedisClient;
  /** SIGKILLs a master; `promotion` resolves when a replica took over. */
  kill(): Promise<{ promotion: Promise<Promotion> }>;
  subscribers: TestSubscriber[];
  writes?: number;
  killAt?: number;
  subscriberCount?: number;
}

export async function runFailoverLoop(options: FailoverLoopOptions): Promise<FailoverReport> {
  const { gateway, redis, control, subscribers } = options;
  const writes = options.writes ?? 60;
  const killAt = options.killAt ?? 20;
  const token = await gateway.login(admin.email, admin.password);
  const after = await streamTailOf(redis, 'catalog');
  const firstOutboxId = await lastOutboxId(gateway);
  for (let index = 0; index < (options.subscriberCount ?? 3); index++) {
    subscribers.push(startSubscriber({ urls: gateway.wsUrl, query: PRODUCT_CHANGED, field: 'productChanged', variables: { id: String(FAILOVER_PRODUCT_ID) }, after }));
  }
  await Promise.all(subscribers.map((subscriber) => subscriber.waitForConnections(1)));

  const figures: LoopFigures = { mutations: 0, failures: [], failedMutations: 0, failedAfterPromotion: 0, staleReads: 0, staleReadDetails: [], failedReads: 0, promotionMs: -1, recoveredMs: -1 };
  let killedAt = 0;
  let promoted = false;
  let promotion: Promise<unknown> = Promise.resolve();
  let acknowledgedStock = 0;
  for (let write = 1; write <= writes; write++) {
    if (write === killAt) {
      const kill = await options.kill();
      killedAt = Date.now();
      promotion = kill.promotion.then(async (announced) => {
        figures.promotionMs = announced.afterMs;
        // "After the promotion" starts once the gateway's connection is up again: reconnecting
        // (backing off up to 2 s after failed attempts during the outage) is part of the outage,
        // and on a loaded machine the loop would otherwise race ahead of it.
        // Not events.once: it rejects on the 'error' events a reconnecting connection emits.
        const command = gateway.app.redisConnections.command;
        if (command.status !== 'ready') await new Promise((resolve) => command.once('ready', resolve));
        promoted = true;
      });
    }
    // Past the kill, go on only once a replica was promoted: the figures then say what a client
    // sees after a promotion (during the outage, writes wait for the publish bound).
    if (killedAt && write === killAt + 5) await promotion;
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
    else if (read < acknowledgedStock) {
      figures.staleReads += 1;
      figures.staleReadDetails.push({ write, read, acknowledged: acknowledgedStock, mutationMs: result.elapsedMs, sinceKillMs: killedAt ? Date.now() - killedAt : null, wasPromoted });
    }
  }
  await promotion;

  // Settled: the relay drained the outbox onto the new master, and every subscriber has what the stream has.
  const rows = await outboxRowsAfter(gateway, firstOutboxId);
  await waitUntil(
    async () => (await gateway.app.database.db.select({ id: outbox.id }).from(outbox).where(and(gt(outbox.id, firstOutboxId), isNotNull(outbox.publishedAt)))).length >= rows.length,
    'the relay has published every row of the loop',
    SETTLE_BOUND_MS,
  ).catch(async (error: unknown) => {
    // What the relay was doing, to tell a slow relay from a stuck one (seen once in CI on PostgreSQL after a Sentinel failover).
    const { relay, redisConnections } = gateway.app;
    console.log(
      `relay did not drain: ${JSON.stringify({ ...figures, isLeader: relay.isLeader, backlog: await relay.backlog().catch(String), republishedRows: relay.republishedRows, commandConnection: (redisConnections.command as { status?: string }).status })}`,
    );
    throw error;
  });
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
  console.log(
    `${options.label} figures: ${JSON.stringify({
      ...figures,
      eventsExpected: rows.length,
      eventsInStream: entries.length,
      eventsDeliveredPerSubscriber: delivered.map((cursors) => cursors.length),
      missingPerSubscriber: delivered.map((cursors) => streamIds.filter((id) => !cursors.includes(id)).length),
      notInStreamPerSubscriber: delivered.map((cursors) => cursors.filter((id) => !streamIds.includes(id)).length),
      duplicatedPerSubscriber: delivered.map(duplicatesOf),
      republishedRows: gateway.app.relay.republishedRows,
    })}`,
  );
  return { figures, committedEventIds: rows.map((row) => row.eventId), streamEventIds: entries.map((entry) => entry.event.id), streamIds, delivered };
}

/** The guarantees a failover must keep (see the file's header). */
export function expectFailoverKeptEverything({ figures, committedEventIds, streamEventIds, streamIds, delivered }: FailoverReport): void {
  expect(figures.promotionMs).toBeGreaterThan(0);
  expect(figures.failedAfterPromotion).toBe(0);
  expect(figures.recoveredMs).toBeGreaterThan(0);
  expect(figures.staleReads).toBe(0);
  // The stream holds every committed event once (Postgres is the truth)...
  expect(streamEventIds).toEqual(committedEventIds);
  expect(duplicatesOf(streamIds)).toBe(0);
  // ...and every subscriber got exactly the stream: the same ids, in order, none twice.
  for (const cursors of delivered) expect(cursors).toEqual(streamIds);
}

/**
 * Registers the scenario in the current describe block: a gateway of its own on `redis()` (with
 * the publish bound above), the loop with `kill`, then the guarantees; subscribers and gateway
 * are closed afterwards. `check` runs first (e.g. that the kill will hit what the test means).
 */
export function failoverLoopScenario(options: {
  label: string;
  redis(): TestRedis;
  control(): RedisClient;
  kill(): Promise<{ promotion: Promise<Promotion> }>;
  check?(): Promise<void>;
}): void {
  let gateway: TestGateway;
  const subscribers: TestSubscriber[] = [];

  beforeAll(async () => {
    gateway = await startTestGateway({ redis: options.redis(), seed: { users: 5, products: 5, orders: 5 }, env: { OUTBOX_PUBLISH_WAIT_MS: PUBLISH_WAIT_MS } });
  });

  afterAll(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.dispose()));
    await gateway?.stop();
  });

  // The loop (about 15 s), then up to two settle bounds.
  it('keeps writing, delivers exactly the stream to every subscriber, and never serves a read older than an acknowledged write', async () => {
    await options.check?.();
    const report = await runFailoverLoop({ label: options.label, gateway, redis: options.redis(), control: options.control(), subscribers, kill: options.kill });
    expectFailoverKeptEverything(report);
  }, 15_000 + 2 * SETTLE_BOUND_MS + 20_000);
}

/**
 * The Redis of a failover test file: started by `start` before its tests, with a connection of
 * the test's own that follows failovers and ignores the errors it sees during one; both stopped after.
 */
export function ownFailoverRedis<Started extends TestRedis>(start: () => Promise<Started>): { redis(): Started; control(): RedisClient } {
  let redis: Started | undefined;
  let control: RedisClient | undefined;
  const openControl = (): RedisClient => {
    const connection = redis!.connect({ maxRetriesPerRequest: null });
    connection.on('error', () => undefined);
    return connection;
  };
  beforeAll(async () => {
    redis = await start();
    control = openControl();
  });
  afterAll(async () => {
    control?.disconnect();
    await redis?.stop();
  });
  // ioredis ends a Sentinel client for good ("Connection is closed.") when its failover detector
  // cuts short a reconnect's lookup of the master (the connector rejects, and a rejected connect
  // is never retried). The test's own observer then connects again, rather than failing the
  // scenario it only watches. The gateway's own connections are reopened by connectRedis
  // (src/redis/reopen-ended.ts; test/integration/sentinel-reconnect.test.ts).
  return {
    redis: () => redis!,
    control: () => {
      if (control!.status === 'end') control = openControl();
      return control!;
    },
  };
}
