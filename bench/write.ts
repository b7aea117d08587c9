// `npm run bench:write`: the write path under load. placeOrder end to end (each answer returns
// only once its event is in the stream), the publish lag from the mutation's transaction to its
// XADD, and how fast the projections consume the orders stream: while the orders come in, and (on
// PostgreSQL) over a backlog, which shows what a worker can do rather than what it was given.
//
// Loopback only: its own redis-server, the gateway as a child process (PGlite in .data/bench, where
// the gateway runs the projections itself, or DATABASE_URL with a worker process started here, as
// `npm run worker` runs it), autocannon.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { hasCaughtUp, readGroupLags } from '../src/projections/group-lag';
import { PROJECTION_NAMES } from '../src/projections/projections';
import { createRedisKeys } from '../src/redis/keys';
import { startGatewayProcess, type GatewayProcess } from '../test/support/gateway-process';
import { startRedisServer } from '../src/testing/redis-server';
import { startWorkerProcess, type WorkerProcess } from '../test/support/worker-process';
import { CONNECTIONS, DURATION_SECONDS, GATEWAY_BENCH_ENV, ROOT, load, login, percentile, prepareDatabase, runBenchmark, writeReadmeSection } from './harness';

const PLACE_ORDER = 'mutation ($productId: ID!) { placeOrder(input: { items: [{ productId: $productId, quantity: 1 }] }) { id status } }';
const PAY_ORDER = 'mutation ($id: ID!) { payOrder(id: $id) { id status } }';
const LOGGED_IN_USERS = 100;
const keys = createRedisKeys('sg');
const STREAM = keys.stream('orders');
/** How long the projections may take to catch up once the load has ended: keeps the bench bounded. */
const DRAIN_LIMIT_MS = 60_000;


async function graphql<Data>(gateway: GatewayProcess, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<Data> {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return ((await response.json()) as { data: Data }).data;
}

/**
 * Waits until every projection's consumer group has been handed every entry of the orders stream
 * and has acknowledged it (a group that does not exist, because no worker runs, never has), for
 * at most DRAIN_LIMIT_MS after `since`. Resolves to the time it happened, or null.
 */
async function waitForProjections(redis: Redis, since: number): Promise<number | null> {
  for (;;) {
    const groups = (await readGroupLags(redis, keys)).filter((group) => group.stream === 'orders');
    if (PROJECTION_NAMES.every((name) => groups.some((group) => group.group === name && hasCaughtUp(group)))) return Date.now();
    if (Date.now() - since > DRAIN_LIMIT_MS) {
      console.warn(`the projections had not caught up ${DRAIN_LIMIT_MS / 1000} s after the load ended: ${JSON.stringify(groups)}`);
      return null;
    }
    await sleep(10);
  }
}

async function main(): Promise<void> {
  const databaseEnv = prepareDatabase();
  const redisServer = await startRedisServer();
  const redis = new Redis(redisServer.url);
  const gateway = await startGatewayProcess({
    env: { ...databaseEnv, REDIS_URL: redisServer.url, NODE_ENV: 'production', LOG_LEVEL: 'info', SEED_DEMO_DATA: 'false', ...GATEWAY_BENCH_ENV },
    readyTimeoutMs: 120_000,
  });
  // On PostgreSQL the gateway leaves the projections to worker processes: one here, as deployed.
  const startWorker = () => startWorkerProcess({ env: { ...databaseEnv, REDIS_URL: redisServer.url, NODE_ENV: 'production', LOG_LEVEL: 'info' } });
  let worker: WorkerProcess | undefined;
  try {
    if (databaseEnv.DATABASE_URL) worker = await startWorker();
    const tokens = await Promise.all(
      Array.from({ length: LOGGED_IN_USERS }, (_, index) => login(gateway, `user${4 + index * 97}@example.com`)),
    );
    // Products with plenty of stock, so every order can succeed.
    const stocked: string[] = [];
    let after: string | null = null;
    do {
      type ProductsPage = { products: { edges: Array<{ node: { id: string; stock: number } }>; pageInfo: { hasNextPage: boolean; endCursor: string } } };
      const query = 'query ($after: String) { products(first: 100, after: $after) { edges { node { id stock } } pageInfo { hasNextPage endCursor } } }';
      const page: ProductsPage['products'] = (await graphql<ProductsPage>(gateway, query, { after })).products;
      stocked.push(...page.edges.filter((edge) => edge.node.stock >= 200).map((edge) => edge.node.id));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);

    // 1. placeOrder for DURATION_SECONDS while the projections run.
    const streamLengthBefore = await redis.xlen(STREAM);
    const startedAt = Date.now();
    const result = await load(
      gateway,
      () => JSON.stringify({ query: PLACE_ORDER, variables: { productId: stocked[Math.floor(Math.random() * stocked.length)] } }),
      () => ({ authorization: `Bearer ${tokens[Math.floor(Math.random() * tokens.length)]}` }),
      { seconds: DURATION_SECONDS },
    );
    const loadEndedAt = Date.now();
    const placed = (await redis.xlen(STREAM)) - streamLengthBefore;
    const projectedAt = await waitForProjections(redis, loadEndedAt);

    // Publish lag: the stream id's time (XADD) minus the event's occurredAt (in the transaction).
    const events = (await redis.xrange(STREAM, '-', '+')).slice(-placed).map(([id, fields]) => ({
      id,
      event: JSON.parse(fields[fields.indexOf('event') + 1]!) as { occurredAt: string; data: { orderId: number; userId: number } },
    }));
    const lags = events.map(({ id, event }) => Number(id.split('-')[0]) - Date.parse(event.occurredAt)).sort((a, b) => a - b);

    // 2. The backlog (PostgreSQL): with the worker stopped, each order of (1) is paid by its owner;
    // then a worker starts and works through the OrderPaid events, each a notifications row (and
    // its NotificationAdded in the outbox) in Postgres.
    let backlog: { events: number; badResponses: number; catchUpMs: number | null; eventsPerSecond: number | null } | null = null;
    if (worker) {
      await worker.stop();
      worker = undefined;
      const tokenOf = new Map<number, string>();
      for (const token of tokens) tokenOf.set(Number((await graphql<{ me: { id: string } }>(gateway, '{ me { id } }', {}, token)).me.id), token);
      const toPay = events.map(({ event }) => event.data).filter((order) => tokenOf.has(order.userId));
      // setupRequest asks for the body, then the headers, of each request: the same order's owner.
      let next = 0;
      const lengthBeforePaying = await redis.xlen(STREAM);
      const paying = await load(
        gateway,
        () => JSON.stringify({ query: PAY_ORDER, variables: { id: String(toPay[next++ % toPay.length]!.orderId) } }),
        () => ({ authorization: `Bearer ${tokenOf.get(toPay[(next - 1) % toPay.length]!.userId)}` }),
        { requests: toPay.length },
      );
      const paid = (await redis.xlen(STREAM)) - lengthBeforePaying;
      worker = await startWorker();
      const workerReadyAt = Date.now();
      const caughtUpAt = await waitForProjections(redis, workerReadyAt);
      const catchUpMs = caughtUpAt === null ? null : Math.max(1, caughtUpAt - workerReadyAt);
      backlog = {
        events: paid,
        badResponses: paying.non2xx + paying.errors + paying.mismatches,
        catchUpMs,
        eventsPerSecond: catchUpMs === null ? null : Math.round(paid / (catchUpMs / 1000)),
      };
    }

    const row = {
      mutationsPerSecond: Math.round(result.requests.average),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      ordersPlaced: placed,
      badResponses: result.non2xx + result.errors + result.mismatches,
      publishLagP50Ms: percentile(lags, 0.5),
      publishLagP99Ms: percentile(lags, 0.99),
      /** Orders over the time from the start of the load until the projections had applied them all. */
      projectedEventsPerSecond: projectedAt === null ? null : Math.round(placed / ((projectedAt - startedAt) / 1000)),
      /** From the end of the load until the projections had applied every order; null: not within DRAIN_LIMIT_MS. */
      drainMs: projectedAt === null ? null : projectedAt - loadEndedAt,
      /** PostgreSQL only: OrderPaid events a freshly started worker found waiting, and how fast it applied them. */
      backlog,
    };
    console.log(JSON.stringify(row));

    const date = new Date().toISOString().slice(0, 10);
    const machine = `${process.platform} ${process.arch}, ${os.cpus().length} cores, Node ${process.version}, ${databaseEnv.DATABASE_URL ? 'PostgreSQL + worker' : 'PGlite (projections in the gateway)'}`;
    fs.writeFileSync(path.join(ROOT, `bench/results/write-${date}.json`), JSON.stringify({ date, machine, connections: CONNECTIONS, row }, null, 2));
    const notWithin = `> ${DRAIN_LIMIT_MS / 1000} s`;
    const drain = row.drainMs === null ? notWithin : `${row.drainMs} ms`;
    const backlogCell = !backlog ? 'n/a (PGlite)' : `${backlog.events} in ${backlog.catchUpMs === null ? notWithin : `${backlog.catchUpMs} ms = ${backlog.eventsPerSecond}/s`}`;
    const table =
      '| placeOrder/s | p50 ms | p99 ms | orders | bad responses | publish lag p50 / p99 ms | projected events/s | drain after the load | worker on a backlog of OrderPaid |\n' +
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n' +
      `| ${row.mutationsPerSecond} | ${row.p50Ms} | ${row.p99Ms} | ${row.ordersPlaced} | ${row.badResponses + (backlog?.badResponses ?? 0)} | ${row.publishLagP50Ms} / ${row.publishLagP99Ms} | ${row.projectedEventsPerSecond ?? `< ${Math.floor(placed / ((DRAIN_LIMIT_MS + DURATION_SECONDS * 1000) / 1000))}`} | ${drain} | ${backlogCell} |`;
    writeReadmeSection('write', `${date}, ${machine}; ${CONNECTIONS} connections, ${DURATION_SECONDS} s.\n\n${table}`);
    console.log(`\n${table}\n\nwritten to bench/README.md and bench/results/write-${date}.json`);
  } finally {
    await worker?.stop();
    await gateway.stop();
    redis.disconnect();
    await redisServer.stop();
  }
}

runBenchmark(main);
