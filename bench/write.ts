// `npm run bench:write`: the write path under load. placeOrder end to end (each answer returns
// only once its event is in the stream), the publish lag from the mutation's transaction to its
// XADD, and how fast the projections consume the orders stream.
//
// Loopback only: its own redis-server, the gateway as a child process (PGlite in .data/bench, where
// the gateway runs the projections itself, or DATABASE_URL with a worker process), autocannon.
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { startGatewayProcess } from '../test/support/gateway-process';
import { startRedisServer } from '../test/support/redis-server';
import { CONNECTIONS, DURATION_SECONDS, GATEWAY_NODE_OPTIONS, ROOT, load, login, prepareDatabase, runBenchmark, writeReadmeSection } from './harness';

const PLACE_ORDER = 'mutation ($productId: ID!) { placeOrder(input: { items: [{ productId: $productId, quantity: 1 }] }) { id status } }';
const LOGGED_IN_USERS = 100;
const STREAM = 'sg:stream:orders';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

async function main(): Promise<void> {
  const databaseEnv = prepareDatabase();
  const redisServer = await startRedisServer();
  const redis = new Redis(redisServer.url);
  const gateway = await startGatewayProcess({
    env: { ...databaseEnv, REDIS_URL: redisServer.url, NODE_ENV: 'production', LOG_LEVEL: 'info', SEED_DEMO_DATA: 'false', NODE_OPTIONS: GATEWAY_NODE_OPTIONS },
    readyTimeoutMs: 120_000,
  });
  try {
    const tokens = await Promise.all(
      Array.from({ length: LOGGED_IN_USERS }, (_, index) => login(gateway, `user${4 + index * 97}@example.com`)),
    );
    // Products with plenty of stock, so every order can succeed.
    const stocked: string[] = [];
    let after: string | null = null;
    do {
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'query ($after: String) { products(first: 100, after: $after) { edges { node { id stock } } pageInfo { hasNextPage endCursor } } }', variables: { after } }),
      });
      const page = ((await response.json()) as { data: { products: { edges: Array<{ node: { id: string; stock: number } }>; pageInfo: { hasNextPage: boolean; endCursor: string } } } }).data.products;
      stocked.push(...page.edges.filter((edge) => edge.node.stock >= 200).map((edge) => edge.node.id));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);

    const streamLengthBefore = await redis.xlen(STREAM);
    const startedAt = Date.now();
    const result = await load(
      gateway,
      () => JSON.stringify({ query: PLACE_ORDER, variables: { productId: stocked[Math.floor(Math.random() * stocked.length)] } }),
      () => ({ authorization: `Bearer ${tokens[Math.floor(Math.random() * tokens.length)]}` }),
      { seconds: DURATION_SECONDS },
    );
    const placed = (await redis.xlen(STREAM)) - streamLengthBefore;

    // Publish lag: the stream id's time (XADD) minus the event's occurredAt (in the transaction).
    const entries = (await redis.xrange(STREAM, '-', '+')).slice(-placed);
    const lags = entries
      .map(([id, fields]) => {
        const event = JSON.parse(fields[fields.indexOf('event') + 1]!) as { occurredAt: string };
        return Number(id.split('-')[0]) - Date.parse(event.occurredAt);
      })
      .sort((a, b) => a - b);

    // Projection throughput: wait until the top-products group has read every entry.
    const groupLag = async () => {
      const groups = (await redis.xinfo('GROUPS', STREAM)) as unknown[][];
      const group = groups.map((fields) => Object.fromEntries(fields.reduce<Array<[string, unknown]>>((pairs, value, index, all) => (index % 2 ? pairs : [...pairs, [String(value), all[index + 1]]]), []))).find((fields) => fields.name === 'top-products');
      return group ? Number(group.lag ?? 0) + Number(group.pending ?? 0) : Infinity;
    };
    while ((await groupLag()) > 0 && Date.now() - startedAt < 300_000) await redis.ping();
    const projectedAt = Date.now();

    const row = {
      mutationsPerSecond: Math.round(result.requests.average),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      ordersPlaced: placed,
      badResponses: result.non2xx + result.errors + result.mismatches,
      publishLagP50Ms: percentile(lags, 0.5),
      publishLagP99Ms: percentile(lags, 0.99),
      projectedEventsPerSecond: Math.round(placed / ((projectedAt - startedAt) / 1000)),
    };
    console.log(JSON.stringify(row));

    const date = new Date().toISOString().slice(0, 10);
    const machine = `${process.platform} ${process.arch}, ${(await import('node:os')).cpus().length} cores, Node ${process.version}, ${databaseEnv.DATABASE_URL ? 'PostgreSQL + worker' : 'PGlite (projections in the gateway)'}`;
    fs.writeFileSync(path.join(ROOT, `bench/results/write-${date}.json`), JSON.stringify({ date, machine, connections: CONNECTIONS, row }, null, 2));
    const table = `| placeOrder/s | p50 ms | p99 ms | orders | bad responses | publish lag p50 / p99 ms | projected events/s |\n|---:|---:|---:|---:|---:|---:|---:|\n| ${row.mutationsPerSecond} | ${row.p50Ms} | ${row.p99Ms} | ${row.ordersPlaced} | ${row.badResponses} | ${row.publishLagP50Ms} / ${row.publishLagP99Ms} | ${row.projectedEventsPerSecond} |`;
    writeReadmeSection('write', `${date}, ${machine}; ${CONNECTIONS} connections, ${DURATION_SECONDS} s.\n\n${table}`);
    console.log(`\n${table}\n\nwritten to bench/README.md and bench/results/write-${date}.json`);
  } finally {
    await gateway.stop();
    redis.disconnect();
    await redisServer.stop();
  }
}

runBenchmark(main);
