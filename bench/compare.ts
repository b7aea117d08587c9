// `npm run bench`: this gateway against its peers, same schema subset, same database, same Redis,
// same machine, same run (bench/README.md explains the set-up). The servers run side by side and
// take turns under load (one at a time); the load comes from this process (autocannon), every
// response checked.
//
// Peers (bench/peers/, their packages in bench/node_modules, installed here on first run):
// ceiling (node:http, precomputed bytes), Mercurius + graphql-jit + mercurius-cache (Redis),
// GraphQL Yoga + DataLoader + response cache (Redis), plain Apollo Server 5 + DataLoader.
// After the read rows, each server but the ceiling (which cannot take a write) gets the mixed
// rows in turn (bench/mixed.ts): the same reads while other customers place orders.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Result } from 'autocannon';
import Redis, { Cluster } from 'ioredis';
import { scanKeys, type RedisClient } from '../src/redis/client';
import { startGatewayProcess, type GatewayProcess } from '../test/support/gateway-process';
import { startClusterSetup } from '../src/testing/redis-cluster';
import { startRedisServer } from '../src/testing/redis-server';
import { CONNECTIONS, DURATION_SECONDS, GATEWAY_BENCH_ENV, ROOT, WARMUP_SECONDS, freePort, load, login, median, metric, metricOrNull, prepareDatabase, runBenchmark, sum, writeReadmeSection, type MetricsSource } from './harness';
import { MIXED_RATES, measureMixed, mixedMarkdown, openStocks, type MixedOptions, type MixedRow, type MixedTarget } from './mixed';

const COLD_REQUESTS = 2000;
const LOGGED_IN_USERS = 100;
/** The customers who place orders in the mixed rows: users 9701-9720, none of them a reader (4 + 97 k, up to 9607). */
const WRITERS = 20;
const FIRST_WRITER = 9701;
const PEER_PORT = 4100;
const PRODUCT_QUERY = 'query ($id: ID!) { product(id: $id) { id name priceCents stock } }';
const ORDERS_QUERY = '{ orders(first: 20) { edges { node { id items { product { name priceCents } } user { name } } } } }';
const PEERS = ['ceiling', 'mercurius', 'yoga', 'apollo'] as const;
type ServerName = (typeof PEERS)[number] | 'streamgate' | 'streamgate-cluster';
/** Our own rows (the gateway on one Redis, and on a 3-master Redis Cluster): never a peer. */
const isOurs = (server: string) => server === 'streamgate' || server === 'streamgate-cluster';
/** BENCH_SERVERS (e.g. "streamgate,apollo") runs only those servers; the gateway still starts first for the logins. */
const SERVERS = new Set((process.env.BENCH_SERVERS ?? ['streamgate', 'streamgate-cluster', ...PEERS].join(',')).split(',').map((name) => name.trim()));

interface Server extends MixedTarget {
  name: ServerName;
  /** The server's process, whose CPU time a row divides by its requests. */
  pid: number;
  /** SQL statements and Redis round trips (commands, for the peers) served so far. */
  costs(): Promise<{ sql: number; redis: number }>;
  stop(): Promise<void>;
}

interface Row {
  server: ServerName;
  query: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  sqlPerRequest: number;
  redisPerRequest: number;
  /**
   * The server process's CPU time (user + system, /proc) per answered request, in µs: what one
   * request costs the server itself, which the machine's drift between rows moves less than req/s.
   */
  cpuMicrosPerRequest: number | null;
  badResponses: number;
}

/** CPU time a process has used, in µs (/proc/<pid>/stat, Linux); null where there is no /proc. */
function processCpuMicros(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces), from field 3 on: utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}
/** USER_HZ: what /proc/<pid>/stat counts CPU time in, 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

function installPeers(): void {
  if (fs.existsSync(path.join(ROOT, 'bench/node_modules/mercurius'))) return;
  console.log('installing the peers into bench/node_modules (once)...');
  execFileSync('npm', ['install', '--prefix', path.join(ROOT, 'bench'), '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
}

async function startPeer(name: (typeof PEERS)[number], env: Record<string, string>, port: number): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, ['-r', './scripts/register-swc.js', `bench/peers/${name}.ts`], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 120_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (String(chunk).includes('peer ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
  return {
    name,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}/graphql`,
    // Its counters are served on the next port (bench/peers/common.ts).
    costs: async () => (await (await fetch(`http://127.0.0.1:${port + 1}/`)).json()) as { sql: number; redis: number },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

function gatewayServer(gateway: GatewayProcess, metricsPort: number, name: 'streamgate' | 'streamgate-cluster' = 'streamgate'): Server {
  // In production the gateway serves /metrics on its METRICS_PORT only.
  const metrics: MetricsSource = { url: gateway.url, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
  return {
    name,
    pid: gateway.pid,
    url: gateway.url,
    costs: async () => ({
      sql: await metric(metrics, 'streamgate_sql_statements_total'),
      redis: await metric(metrics, 'streamgate_cache_redis_round_trips_total'),
    }),
    responseCache: async () => {
      const hits = await metricOrNull(metrics, 'streamgate_response_cache_hits_total');
      const misses = await metricOrNull(metrics, 'streamgate_response_cache_misses_total');
      return hits === null || misses === null ? null : { hits, misses };
    },
    stop: async () => void (await gateway.stop()),
  };
}

/** The sessions (`sg:<database identity>:session:…`, src/redis/keys.ts) and the identity the gateway noted. */
const KEPT_KEYS = /^sg:(?:\{events\}:database$|[^:]+:(?:session|user-sessions):)/;

/** Empties every cache (ours and the peers'), keeping the sessions; on every master of a Cluster. */
async function emptyCaches(redis: RedisClient): Promise<void> {
  for await (const { server, keys } of scanKeys(redis, '*', 1000)) {
    await Promise.all(keys.filter((key) => !KEPT_KEYS.test(key)).map((key) => server.del(key)));
  }
}

/** A warm row is measured in this many windows per server, the servers taking turns. */
const WARM_ROUNDS = 5;

/** What one load of a server gave, and what it cost the server. */
interface Window {
  result: Result;
  cpuMicros: number | null;
  sql: number;
  redis: number;
}

async function measureWindow(server: Server, body: () => string, headers: () => Record<string, string>, limit: { seconds?: number; requests?: number }): Promise<Window> {
  const before = await server.costs();
  const cpuBefore = processCpuMicros(server.pid);
  const result = await load(server, body, headers, limit);
  const cpuAfter = processCpuMicros(server.pid);
  const after = await server.costs();
  return { result, cpuMicros: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore, sql: after.sql - before.sql, redis: after.redis - before.redis };
}


/** A row from its windows: rates over their whole time, costs per answered request, latencies the median window's. */
function rowOf(server: ServerName, query: string, windows: Window[]): Row {
  const answered = Math.max(sum(windows.map((window) => window.result['2xx'])), 1);
  const cpu = windows.map((window) => window.cpuMicros);
  const row: Row = {
    server,
    query,
    requestsPerSecond: Math.round(sum(windows.map((window) => window.result.requests.total)) / sum(windows.map((window) => window.result.duration))),
    p50Ms: median(windows.map((window) => window.result.latency.p50)),
    p99Ms: median(windows.map((window) => window.result.latency.p99)),
    sqlPerRequest: Number((sum(windows.map((window) => window.sql)) / answered).toFixed(2)),
    redisPerRequest: Number((sum(windows.map((window) => window.redis)) / answered).toFixed(2)),
    cpuMicrosPerRequest: cpu.includes(null) ? null : Math.round(sum(cpu as number[]) / answered),
    badResponses: sum(windows.map(({ result }) => result.non2xx + result.errors + result.mismatches)),
  };
  console.log(JSON.stringify(row));
  return row;
}

/**
 * The read rows of servers that run side by side: each one's cold row right after every cache is
 * emptied; then every server warmed up; then each warm row in WARM_ROUNDS windows per server, the
 * servers taking turns (the order rotating each round), so that the machine's speed, which drifts
 * by up to 2x over minutes here, weighs on every server alike.
 */
async function measureReads(servers: Server[], redis: RedisClient, tokens: string[]): Promise<Row[]> {
  const randomToken = () => ({ authorization: `Bearer ${tokens[Math.floor(Math.random() * tokens.length)]}` });
  const productBody = () => JSON.stringify({ query: PRODUCT_QUERY, variables: { id: String(1 + Math.floor(Math.random() * 2000)) } });
  const ordersBody = () => JSON.stringify({ query: ORDERS_QUERY });
  const rows: Row[] = [];
  for (const server of servers) {
    await emptyCaches(redis);
    rows.push(rowOf(server.name, 'c) orders, cold cache', [await measureWindow(server, ordersBody, randomToken, { requests: COLD_REQUESTS })]));
  }
  for (const server of servers) {
    await load(server, productBody, randomToken, { seconds: WARMUP_SECONDS });
    await load(server, ordersBody, randomToken, { seconds: WARMUP_SECONDS });
  }
  const warmRows = async (query: string, body: () => string) => {
    const windows = new Map<ServerName, Window[]>(servers.map((server) => [server.name, []]));
    for (let round = 0; round < WARM_ROUNDS; round++) {
      for (let turn = 0; turn < servers.length; turn++) {
        const server = servers[(turn + round) % servers.length]!;
        windows.get(server.name)!.push(await measureWindow(server, body, randomToken, { seconds: DURATION_SECONDS / WARM_ROUNDS }));
      }
    }
    return servers.map((server) => rowOf(server.name, query, windows.get(server.name)!));
  };
  rows.push(...(await warmRows('a) product(id)', productBody)));
  rows.push(...(await warmRows('b) orders(first: 20) nested', ordersBody)));
  return rows;
}

/** The mixed rows of each server in turn (not the ceiling, which cannot take a write), each after every cache is emptied. */
async function measureMixedRows(servers: Server[], redis: RedisClient, options: MixedOptions): Promise<MixedRow[]> {
  const rows: MixedRow[] = [];
  for (const server of servers.filter(({ name }) => name !== 'ceiling')) {
    // Another server's orders left stock in this one's cache that its own writes never invalidated.
    await emptyCaches(redis);
    rows.push(...(await measureMixed(server, options)));
  }
  return rows;
}

function markdown(rows: Row[]): string {
  const lines = [
    '| query | server | req/s | p50 ms | p99 ms | × ceiling | × best peer | server CPU µs/req | SQL/req | Redis/req | bad |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const query of [...new Set(rows.map((row) => row.query))].sort()) {
    const ofQuery = rows.filter((row) => row.query === query);
    const ceiling = ofQuery.find((row) => row.server === 'ceiling')?.requestsPerSecond;
    const peers = ofQuery.filter((row) => row.server !== 'ceiling' && !isOurs(row.server));
    const bestPeer = peers.length ? Math.max(...peers.map((row) => row.requestsPerSecond)) : undefined;
    // '—' when BENCH_SERVERS left the reference out.
    const ratio = (value: number, of: number | undefined) => (of ? (value / of).toFixed(2) : '—');
    for (const row of ofQuery.sort((a, b) => b.requestsPerSecond - a.requestsPerSecond)) {
      lines.push(
        `| ${query} | ${row.server} | ${row.requestsPerSecond} | ${row.p50Ms} | ${row.p99Ms} | ${ratio(row.requestsPerSecond, ceiling)} | ${ratio(row.requestsPerSecond, bestPeer)} | ${row.cpuMicrosPerRequest ?? '—'} | ${row.sqlPerRequest} | ${row.redisPerRequest} | ${row.badResponses} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The same measurements of the gateway on a 3-master Redis Cluster of its own (sessions are logged in again there). */
async function measureOnCluster(databaseEnv: Record<string, string>, stocks: MixedOptions['stocks']): Promise<{ rows: Row[]; mixed: MixedRow[] }> {
  const cluster = await startClusterSetup();
  const redis = new Cluster(cluster.nodes);
  try {
    const metricsPort = await freePort();
    const gateway = await startGatewayProcess({
      env: { ...databaseEnv, REDIS_CLUSTER_NODES: cluster.nodeList, NODE_ENV: 'production', LOG_LEVEL: 'info', SEED_DEMO_DATA: 'false', METRICS_PORT: String(metricsPort), ...GATEWAY_BENCH_ENV },
      readyTimeoutMs: 120_000,
    });
    const server = gatewayServer(gateway, metricsPort, 'streamgate-cluster');
    try {
      const tokens = await Promise.all(Array.from({ length: LOGGED_IN_USERS }, (_, index) => login(gateway, `user${4 + index * 97}@example.com`)));
      const writerTokens = await Promise.all(Array.from({ length: WRITERS }, (_, index) => login(gateway, `user${FIRST_WRITER + index}@example.com`)));
      const rows = await measureReads([server], redis, tokens);
      return { rows, mixed: await measureMixedRows([server], redis, { productQuery: PRODUCT_QUERY, ordersQuery: ORDERS_QUERY, readerTokens: tokens, writerTokens, stocks }) };
    } finally {
      await server.stop();
    }
  } finally {
    redis.disconnect();
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  installPeers();
  const databaseEnv = prepareDatabase();
  // Before any server: on PGlite the bench reads the stock while it can still open the directory.
  const stocks = await openStocks(databaseEnv);
  const redisServer = await startRedisServer();
  const redis = new Redis(redisServer.url);
  const answersFile = path.join(os.tmpdir(), `streamgate-ceiling-${process.pid}.json`);
  const rows: Row[] = [];
  const mixed: MixedRow[] = [];
  try {
    const metricsPort = await freePort();
    const gateway = await startGatewayProcess({
      env: { ...databaseEnv, REDIS_URL: redisServer.url, NODE_ENV: 'production', LOG_LEVEL: 'info', SEED_DEMO_DATA: 'false', METRICS_PORT: String(metricsPort), ...GATEWAY_BENCH_ENV },
      readyTimeoutMs: 120_000,
    });
    const tokens = await Promise.all(Array.from({ length: LOGGED_IN_USERS }, (_, index) => login(gateway, `user${4 + index * 97}@example.com`)));
    const writerTokens = await Promise.all(Array.from({ length: WRITERS }, (_, index) => login(gateway, `user${FIRST_WRITER + index}@example.com`)));
    const mixedOptions: MixedOptions = { productQuery: PRODUCT_QUERY, ordersQuery: ORDERS_QUERY, readerTokens: tokens, writerTokens, stocks };
    // The ceiling's answers: the gateway's own responses to one request of each query.
    const answer = async (body: string) =>
      (await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[0]}` }, body })).text();
    fs.writeFileSync(
      answersFile,
      JSON.stringify({
        'product(': await answer(JSON.stringify({ query: PRODUCT_QUERY, variables: { id: '1' } })),
        'orders(': await answer(JSON.stringify({ query: ORDERS_QUERY })),
      }),
    );
    // Every server up at once (an idle one costs nothing), so that their read rows take turns.
    const servers: Server[] = SERVERS.has('streamgate') ? [gatewayServer(gateway, metricsPort)] : [];
    try {
      for (const [index, name] of PEERS.filter((peerName) => SERVERS.has(peerName)).entries()) {
        servers.push(await startPeer(name, { ...databaseEnv, REDIS_URL: redisServer.url, CEILING_ANSWERS: answersFile }, PEER_PORT + 2 * index));
      }
      rows.push(...(await measureReads(servers, redis, tokens)));
      mixed.push(...(await measureMixedRows(servers, redis, mixedOptions)));
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
      // Not among the servers when BENCH_SERVERS leaves it out: it was started for the logins.
      if (!SERVERS.has('streamgate')) await gateway.stop();
    }
    if (SERVERS.has('streamgate-cluster')) {
      const measured = await measureOnCluster(databaseEnv, stocks);
      rows.push(...measured.rows);
      mixed.push(...measured.mixed);
    }
  } finally {
    redis.disconnect();
    await redisServer.stop();
    await stocks.close();
    fs.rmSync(answersFile, { force: true });
  }
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${process.platform} ${process.arch}, ${os.cpus().length} cores, Node ${process.version}, ${databaseEnv.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}`;
  fs.writeFileSync(path.join(ROOT, `bench/results/${date}.json`), JSON.stringify({ date, machine, connections: CONNECTIONS, seconds: DURATION_SECONDS, rows, mixed }, null, 2));
  const table = markdown(rows);
  writeReadmeSection(
    'compare',
    `${date}, ${machine}; ${CONNECTIONS} connections, ${DURATION_SECONDS} s per warm row after ${WARMUP_SECONDS} s warm-up; cold = the first ${COLD_REQUESTS} requests after emptying every cache. Redis/req is round trips for streamgate, commands for the peers; server CPU µs/req is the server process's CPU time (user + system) per answered request.\n\n${table}`,
  );
  const mixedTable = mixedMarkdown(mixed);
  writeReadmeSection(
    'mixed',
    `${date}, ${machine}; reads as above (50/50 anonymous (a) and (b) as one of ${LOGGED_IN_USERS} readers, ${CONNECTIONS} connections) while ${WRITERS} other customers place orders from the bench process at ${MIXED_RATES.join(', ')}/s (one unit of a random product with stock); first 10 s of reads and orders at the highest rate, unmeasured, then each rate's row in 5 windows of 1 s of orders then ${DURATION_SECONDS / 5} s of reads measured, the rates taking turns. A stale read shows more stock than the stock before the row minus the units of the orders acknowledged before it was sent; × read-only is against the same server at 0/s, × best fresh peer against the fastest peer with no stale read at that rate; response cache hits are streamgate's (/metrics).\n\n${mixedTable}`,
  );
  console.log(`\n${table}\n\n${mixedTable}\n\nwritten to bench/README.md and bench/results/${date}.json`);
}

runBenchmark(main);
