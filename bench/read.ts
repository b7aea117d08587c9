// `npm run bench:read`: the read path under load, with the cache off, Redis only (L2), and Redis
// plus the in-process L1, on the seeded 10k users / 2k products / 100k orders.
//
// Everything runs on loopback: its own redis-server, the gateway as a child process (PGlite in
// .data/bench, or DATABASE_URL), autocannon as the load. Every response is checked (status 200,
// data present, no errors) before its numbers count. Results go to bench/results/ and the table
// in bench/README.md.
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { CONNECTIONS, DURATION_SECONDS, GATEWAY_BENCH_ENV, ROOT, SIZES, load, login, metric, prepareDatabase, runBenchmark, writeReadmeSection } from './harness';
import { startRedisServer } from '../src/testing/redis-server';
import { startGatewayProcess, type GatewayProcess } from '../test/support/gateway-process';

const WARMUP_SECONDS = 3;
const COLD_REQUESTS = 2_000;
const LOGGED_IN_USERS = 100;

const PRODUCT_QUERY = 'query ($id: ID!) { product(id: $id) { id name priceCents stock } }';
const ORDERS_QUERY = '{ orders(first: 20) { edges { node { id items { product { name } } user { name } } } } }';

const MODES = [
  { name: 'cache off', env: { CACHE_ENABLED: 'false' } },
  { name: 'L2 (Redis)', env: { CACHE_ENABLED: 'true', CACHE_RESPONSES: 'false' } },
  { name: 'L2 + L1', env: { CACHE_ENABLED: 'true', CACHE_L1_TYPES: 'Product,User,Order,OrderItems,OrderPages' } },
  { name: 'L2 + whole responses', env: { CACHE_ENABLED: 'true', CACHE_RESPONSES: 'true' } },
] as const;

interface Row {
  mode: string;
  query: string;
  cache: 'warm' | 'cold';
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  sqlPerRequest: number;
  redisRoundTripsPerRequest: number;
  badResponses: number;
}

async function costCounters(gateway: GatewayProcess) {
  return {
    operations: await metric(gateway, 'streamgate_http_operations_total'),
    sql: await metric(gateway, 'streamgate_sql_statements_total'),
    redis: await metric(gateway, 'streamgate_cache_redis_round_trips_total'),
  };
}

async function measure(
  gateway: GatewayProcess,
  labels: Pick<Row, 'mode' | 'query' | 'cache'>,
  body: () => string,
  headers: () => Record<string, string>,
  limit: { seconds?: number; requests?: number },
): Promise<Row> {
  const before = await costCounters(gateway);
  const result = await load(gateway, body, headers, limit);
  const after = await costCounters(gateway);
  const operations = Math.max(after.operations - before.operations, 1);
  const row: Row = {
    ...labels,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    sqlPerRequest: Number(((after.sql - before.sql) / operations).toFixed(3)),
    redisRoundTripsPerRequest: Number(((after.redis - before.redis) / operations).toFixed(3)),
    badResponses: result.non2xx + result.errors + result.mismatches,
  };
  console.log(JSON.stringify(row));
  return row;
}

async function flushCache(redis: Redis): Promise<void> {
  for (const pattern of ['sg:*:c:*', 'sg:*:l:*']) {
    const keys = await redis.keys(pattern);
    for (let start = 0; start < keys.length; start += 1000) await redis.del(...keys.slice(start, start + 1000));
  }
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

function markdownTable(rows: Row[]): string {
  const header = '| mode | query | cache | req/s | p50 ms | p99 ms | SQL / req | Redis round trips / req | bad responses |\n|---|---|---|---:|---:|---:|---:|---:|---:|';
  return [
    header,
    ...rows.map(
      (row) =>
        `| ${row.mode} | ${row.query} | ${row.cache} | ${row.requestsPerSecond} | ${row.p50Ms} | ${row.p99Ms} | ${row.sqlPerRequest} | ${row.redisRoundTripsPerRequest} | ${row.badResponses} |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const databaseEnv = prepareDatabase();
  const redisServer = await startRedisServer();
  const redis = new Redis(redisServer.url);
  const rows: Row[] = [];
  try {
    for (const mode of MODES) {
      const gateway = await startGatewayProcess({
        env: {
          ...databaseEnv,
          ...mode.env,
          REDIS_URL: redisServer.url,
          NODE_ENV: 'production',
          LOG_LEVEL: 'info',
          SEED_DEMO_DATA: 'false',
          // As `npm start` runs it (see package.json).
          ...GATEWAY_BENCH_ENV,
        },
        readyTimeoutMs: 120_000,
      });
      try {
        const userIds = Array.from({ length: LOGGED_IN_USERS }, (_, index) => 4 + Math.floor(((index + 0.5) / LOGGED_IN_USERS) * (SIZES.users - 4)));
        const tokens = await Promise.all(userIds.map((id) => login(gateway, `user${id}@example.com`)));
        const productBody = () => JSON.stringify({ query: PRODUCT_QUERY, variables: { id: String(1 + Math.floor(Math.random() * SIZES.products)) } });
        const ordersBody = () => JSON.stringify({ query: ORDERS_QUERY });
        const noHeaders = () => ({});
        const asRandomUser = () => ({ authorization: `Bearer ${pick(tokens)}` });
        const scenarios = [
          { query: 'a) product(id)', body: productBody, headers: noHeaders },
          { query: 'b) orders(first: 20) nested', body: ordersBody, headers: asRandomUser },
        ];
        for (const scenario of scenarios) {
          await flushCache(redis);
          rows.push(await measure(gateway, { mode: mode.name, query: scenario.query, cache: 'cold' }, scenario.body, scenario.headers, { requests: COLD_REQUESTS }));
          await load(gateway, scenario.body, scenario.headers, { seconds: WARMUP_SECONDS });
          rows.push(await measure(gateway, { mode: mode.name, query: scenario.query, cache: 'warm' }, scenario.body, scenario.headers, { seconds: DURATION_SECONDS }));
        }
      } finally {
        await gateway.stop();
      }
    }
  } finally {
    redis.disconnect();
    await redisServer.stop();
  }

  const date = new Date().toISOString().slice(0, 10);
  const machine = `${process.platform} ${process.arch}, ${(await import('node:os')).cpus().length} cores, Node ${process.version}, ${databaseEnv.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}`;
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, `bench/results/read-${date}.json`), JSON.stringify({ date, machine, connections: CONNECTIONS, rows }, null, 2));
  writeReadmeSection(
    'read',
    `${date}, ${machine}; ${CONNECTIONS} connections, ${DURATION_SECONDS} s warm runs after ${WARMUP_SECONDS} s warm-up, cold runs = the first ${COLD_REQUESTS} requests after emptying the cache.\n\n${markdownTable(rows)}`,
  );
  console.log(`\n${markdownTable(rows)}\n\nwritten to bench/README.md and bench/results/read-${date}.json`);
}

runBenchmark(main);
