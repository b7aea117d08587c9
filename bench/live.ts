// `npm run bench:live`: live queries against polling, under the same writes.
//
// BENCH_LIVE_QUERIES (default 10,000) websocket clients over the replicas (2 with DATABASE_URL,
// which they share; 1 on PGlite) each hold `query @live { orders(first: 20) { … } }` as one of 100
// customers (each customer's clients spread over both replicas). Those customers place orders on the
// first replica at BENCH_LIVE_RATE per second (default 5) for BENCH_LIVE_SECONDS (default 30). Then
// the same number of HTTP clients poll the same query every second (Hasura's way: re-run on a
// timer), under the same writes. Reports, for each:
//   - freshness: from a placeOrder's acknowledgement to each of its customer's clients seeing the
//     order (p50/p99), and how many of the expected sightings happened;
//   - what the replicas sent that showed no new order (for live queries: results to customers who
//     wrote nothing, which must be none);
//   - re-executions per write (live) and polls per second (polling);
//   - cost per minute: gateway CPU, PostgreSQL CPU (every postgres process, from /proc), Redis CPU,
//     SQL statements, and the load generator's own CPU (it shares the 2 cores);
//   - memory per idle live query (replica RSS growth / clients).
//
// Loopback only, its own redis-server, gateways as child processes; bounded by the settings above.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startRedisServer } from '../src/testing/redis-server';
import { ROOT, percentile, goodData, login, prepareDatabase, runBenchmark, writeReadmeSection } from './harness';
import { redisCpuSeconds, startReplicas, stopReplicas, sumMetric, waitFor, type Replica } from './replicas';

const CLIENTS = Number(process.env.BENCH_LIVE_QUERIES ?? 10_000);
const POLLERS = Number(process.env.BENCH_LIVE_POLLERS ?? CLIENTS);
const WRITES_PER_SECOND = Number(process.env.BENCH_LIVE_RATE ?? 5);
const SECONDS = Number(process.env.BENCH_LIVE_SECONDS ?? 30);
const VIEWERS = 100;
const POLL_INTERVAL_MS = 1000;
const CONNECT_CONCURRENCY = 200;
const ORDERS_SELECTION = 'orders(first: 20) { edges { node { id status totalCents items { quantity product { name priceCents } } } } }';
const LIVE_QUERY = `query @live { ${ORDERS_SELECTION} }`;
const POLL_QUERY = `query { ${ORDERS_SELECTION} }`;
const PLACE_ORDER = 'mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }';

interface OrdersData {
  orders: { edges: Array<{ node: { id: string } }> };
}

/** What the clients saw: each client's first result is its baseline, every later one is checked for new orders. */
class Sightings {
  /** [order id, received at] for each client that saw an order it had not seen before. */
  readonly seen: Array<[string, number]> = [];
  /** Results (or polls) that showed no order the client had not seen. */
  unchanged = 0;
  firstResults = 0;

  client(): (data: OrdersData) => void {
    let known: Set<string> | undefined;
    return (data) => {
      const receivedAt = performance.now();
      const ids = data.orders.edges.map((edge) => edge.node.id);
      if (!known) {
        known = new Set(ids);
        this.firstResults += 1;
        return;
      }
      const fresh = ids.filter((id) => !known!.has(id));
      if (fresh.length === 0) this.unchanged += 1;
      for (const id of fresh) {
        known.add(id);
        this.seen.push([id, receivedAt]);
      }
    };
  }
}

const viewerOf = (client: number) => client % VIEWERS;
/** Each customer's clients alternate between the replicas in blocks of VIEWERS. */
const replicaOf = (client: number, replicas: Replica[]) => replicas[Math.floor(client / VIEWERS) % replicas.length]!;

function openLiveClient(replica: Replica, token: string, onData: (data: OrdersData) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(replica.wsUrl, 'graphql-transport-ws');
    socket.once('error', reject);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { type: string; payload?: { data?: OrdersData; errors?: unknown } };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: LIVE_QUERY } }));
        resolve(() => socket.terminate());
      } else if (message.type === 'next' && message.payload?.data?.orders) {
        onData(message.payload.data);
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      } else if (message.type === 'error' || (message.type === 'next' && message.payload?.errors)) {
        console.error('live query refused:', JSON.stringify(message.payload));
      }
    });
  });
}

/** A client that POSTs the query every POLL_INTERVAL_MS (one request outstanding at most) until stopped. */
function startPoller(replica: Replica, agent: http.Agent, token: string, onData: (data: OrdersData) => void, counts: { polls: number; failed: number }) {
  const body = JSON.stringify({ query: POLL_QUERY });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = () => {
    if (stopped) return;
    const startedAt = performance.now();
    const request = http.request(
      replica.url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const data = goodData(Buffer.concat(chunks)) as OrdersData | null;
          if (data) {
            counts.polls += 1;
            onData(data);
          } else counts.failed += 1;
          timer = setTimeout(poll, Math.max(0, POLL_INTERVAL_MS - (performance.now() - startedAt)));
        });
      },
    );
    request.on('error', () => {
      counts.failed += 1;
      timer = setTimeout(poll, POLL_INTERVAL_MS);
    });
    request.end(body);
  };
  // Spread the first polls over the first interval, as independent clients would be.
  timer = setTimeout(poll, Math.random() * POLL_INTERVAL_MS);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Products with enough stock that the run's orders never run them out. */
async function writableProducts(replica: Replica): Promise<number[]> {
  const ids: number[] = [];
  for (let id = 1; ids.length < 50 && id <= 500; id += 1) {
    const response = await fetch(replica.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query ($id: ID!) { product(id: $id) { stock } }', variables: { id: String(id) } }),
    });
    const data = goodData(await response.text()) as { product: { stock: number } } | null;
    if (data && data.product.stock >= 50) ids.push(id);
  }
  if (ids.length === 0) throw new Error('no product has stock enough for the run');
  return ids;
}

interface Write {
  viewer: number;
  orderId: string;
  acknowledgedAt: number;
}

/** placeOrder as random customers at WRITES_PER_SECOND for SECONDS; resolves with the acknowledged ones. */
async function placeOrders(replica: Replica, tokens: string[], products: number[]): Promise<{ writes: Write[]; failed: number }> {
  const writes: Write[] = [];
  let failed = 0;
  const inFlight: Array<Promise<void>> = [];
  const total = SECONDS * WRITES_PER_SECOND;
  const startedAt = performance.now();
  for (let sent = 0; sent < total; sent += 1) {
    const dueAt = startedAt + (sent * 1000) / WRITES_PER_SECOND;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, dueAt - performance.now())));
    const viewer = Math.floor(Math.random() * VIEWERS);
    const productId = products[Math.floor(Math.random() * products.length)]!;
    inFlight.push(
      fetch(replica.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[viewer]}` },
        body: JSON.stringify({ query: PLACE_ORDER, variables: { input: { items: [{ productId: String(productId), quantity: 1 }] } } }),
      }).then(
        async (response) => {
          const acknowledgedAt = performance.now();
          const data = goodData(await response.text()) as { placeOrder: { id: string } } | null;
          if (data) writes.push({ viewer, orderId: data.placeOrder.id, acknowledgedAt });
          else failed += 1;
        },
        () => void (failed += 1),
      ),
    );
  }
  await Promise.all(inFlight);
  return { writes, failed };
}

/** CPU seconds (user + system) of every process named `name` now running (PostgreSQL's backends and helpers). */
function processCpuSeconds(name: string): number {
  const ticksPerSecond = 100; // USER_HZ on Linux
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const commEnd = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, commEnd) !== name) continue;
      const fields = stat.slice(commEnd + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
    } catch {
      // exited meanwhile
    }
  }
  return ticks / ticksPerSecond;
}

/** What a window cost: everything that ran on the machine for it, per minute. */
async function costMeter(replicas: Replica[], redisPort: number) {
  const read = async () => ({
    at: performance.now(),
    gatewayCpu: await sumMetric(replicas, 'streamgate_process_cpu_seconds_total'),
    sql: await sumMetric(replicas, 'streamgate_sql_statements_total'),
    executions: await sumMetric(replicas, 'streamgate_live_query_executions_total'),
    hits: await sumMetric(replicas, 'streamgate_response_cache_hits_total'),
    misses: await sumMetric(replicas, 'streamgate_response_cache_misses_total'),
    postgresCpu: processCpuSeconds('postgres'),
    redisCpu: await redisCpuSeconds([redisPort]),
    benchCpu: process.cpuUsage(),
  });
  const before = await read();
  return async () => {
    const after = await read();
    const perMinute = (value: number) => Math.round(((value * 60_000) / (after.at - before.at)) * 10) / 10;
    const benchCpu = process.cpuUsage(before.benchCpu);
    return {
      seconds: Math.round((after.at - before.at) / 100) / 10,
      gatewayCpuSecondsPerMinute: perMinute(after.gatewayCpu - before.gatewayCpu),
      postgresCpuSecondsPerMinute: perMinute(after.postgresCpu - before.postgresCpu),
      redisCpuSecondsPerMinute: perMinute(after.redisCpu - before.redisCpu),
      sqlStatementsPerMinute: Math.round(perMinute(after.sql - before.sql)),
      loadGeneratorCpuSecondsPerMinute: perMinute((benchCpu.user + benchCpu.system) / 1e6),
      liveExecutions: after.executions - before.executions,
      responseCacheHitRate: Math.round(((after.hits - before.hits) / Math.max(1, after.hits - before.hits + after.misses - before.misses)) * 1000) / 10,
    };
  };
}

/** Each acknowledged order should be seen by every client of its customer: the latencies of those sightings. */
function freshness(writes: Write[], sightings: Sightings, clientsPerViewer: (viewer: number) => number) {
  const byOrder = new Map(writes.map((write) => [write.orderId, write]));
  const latencies: number[] = [];
  let beforeAcknowledgement = 0;
  for (const [orderId, receivedAt] of sightings.seen) {
    const write = byOrder.get(orderId);
    if (!write) continue; // an order of an earlier run or of a failed answer
    const latency = receivedAt - write.acknowledgedAt;
    if (latency < 0) beforeAcknowledgement += 1;
    latencies.push(Math.max(0, latency));
  }
  latencies.sort((a, b) => a - b);
  return {
    sightings: latencies.length,
    expected: expectedSightings(writes, clientsPerViewer),
    beforeAcknowledgement,
    p50Ms: Math.round(percentile(latencies, 0.5)),
    p99Ms: Math.round(percentile(latencies, 0.99)),
    maxMs: Math.round(latencies.at(-1) ?? 0),
  };
}

const expectedSightings = (writes: Write[], clientsPerViewer: (viewer: number) => number) =>
  writes.reduce((sum, write) => sum + clientsPerViewer(write.viewer), 0);

/**
 * The orders of the window, with the clients' sightings waited for and what the window cost: the
 * same for both ways, so they differ only in how the clients learn of an order.
 */
async function underOrders(replicas: Replica[], tokens: string[], products: number[], redisPort: number, sightings: Sightings, clientCount: number) {
  const cost = await costMeter(replicas, redisPort);
  const { writes, failed } = await placeOrders(replicas[0]!, tokens, products);
  const expected = expectedSightings(writes, clientsOf(clientCount));
  await waitFor(() => sightings.seen.length >= expected, 30_000, `${expected} sightings`).catch((error: Error) => console.error(error.message));
  const spent = await cost();
  return { writes: writes.length, failedWrites: failed, ...freshness(writes, sightings, clientsOf(clientCount)), resultsWithoutNewOrder: sightings.unchanged, spent };
}

const clientsOf = (count: number) => (viewer: number) => Math.floor(count / VIEWERS) + (viewer < count % VIEWERS ? 1 : 0);

async function runLive(replicas: Replica[], tokens: string[], products: number[], redisPort: number) {
  const rssBefore = await sumMetric(replicas, 'streamgate_process_resident_memory_bytes');
  const sightings = new Sightings();
  const closers: Array<() => void> = [];
  let next = 0;
  const opener = async () => {
    while (next < CLIENTS) {
      const client = next++;
      closers.push(await openLiveClient(replicaOf(client, replicas), tokens[viewerOf(client)]!, sightings.client()));
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, opener));
  await waitFor(() => sightings.firstResults >= CLIENTS, 120_000, `${CLIENTS} first results`);
  const rssAfter = await sumMetric(replicas, 'streamgate_process_resident_memory_bytes');
  const distinctQueries = await sumMetric(replicas, 'streamgate_live_queries');

  const { spent, ...window } = await underOrders(replicas, tokens, products, redisPort, sightings, CLIENTS);
  for (const close of closers) close();
  await waitFor(async () => (await sumMetric(replicas, 'streamgate_live_query_subscribers')) === 0, 60_000, 'live queries to end');
  return {
    way: 'live query',
    clients: CLIENTS,
    distinctQueries,
    ...window,
    executionsPerWrite: Math.round((spent.liveExecutions / Math.max(1, window.writes)) * 100) / 100,
    pollsPerSecond: 0,
    kibPerIdleClient: Math.round((rssAfter - rssBefore) / CLIENTS / 1024),
    ...spent,
  };
}

async function runPolling(replicas: Replica[], tokens: string[], products: number[], redisPort: number) {
  const sightings = new Sightings();
  const counts = { polls: 0, failed: 0 };
  const agents = new Map(replicas.map((replica) => [replica, new http.Agent({ keepAlive: true, maxSockets: 128 })]));
  const stops = Array.from({ length: POLLERS }, (_, client) => {
    const replica = replicaOf(client, replicas);
    return startPoller(replica, agents.get(replica)!, tokens[viewerOf(client)]!, sightings.client(), counts);
  });
  try {
    await waitFor(() => sightings.firstResults >= POLLERS, 120_000, `${POLLERS} first polls`);
    const pollsBefore = counts.polls;
    const { spent, ...window } = await underOrders(replicas, tokens, products, redisPort, sightings, POLLERS);
    return {
      way: `polling every ${POLL_INTERVAL_MS / 1000} s`,
      clients: POLLERS,
      distinctQueries: VIEWERS,
      ...window,
      executionsPerWrite: 0,
      pollsPerSecond: Math.round((counts.polls - pollsBefore) / spent.seconds),
      failedPolls: counts.failed,
      kibPerIdleClient: 0,
      ...spent,
    };
  } finally {
    for (const stop of stops) stop();
    for (const agent of agents.values()) agent.destroy();
  }
}

async function main(): Promise<void> {
  const databaseEnv = prepareDatabase();
  const redisServer = await startRedisServer();
  const replicas = await startReplicas(databaseEnv.DATABASE_URL ? 2 : 1, { ...databaseEnv, REDIS_URL: redisServer.url });
  try {
    // Customers 4, 101, 198, … (the readers of `npm run bench`), with the seed's password.
    const tokens = await Promise.all(Array.from({ length: VIEWERS }, (_, index) => login(replicas[0]!, `user${4 + index * 97}@example.com`)));
    const products = await writableProducts(replicas[0]!);
    const rows = [];
    for (const run of [runLive, runPolling]) {
      const row = await run(replicas, tokens, products, redisServer.port);
      console.log(JSON.stringify(row));
      rows.push(row);
    }
    write(rows, databaseEnv, replicas.length);
  } finally {
    await stopReplicas(replicas);
    await redisServer.stop();
  }
}

type Row = Awaited<ReturnType<typeof runLive>> | Awaited<ReturnType<typeof runPolling>>;

function write(rows: Row[], databaseEnv: Record<string, string>, replicaCount: number): void {
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${process.platform} ${process.arch}, ${os.cpus().length} cores, Node ${process.version}, ${replicaCount} replica(s) on ${databaseEnv.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}`;
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  fs.writeFileSync(
    path.join(ROOT, `bench/results/live-${date}.json`),
    JSON.stringify({ date, machine, viewers: VIEWERS, writesPerSecond: WRITES_PER_SECOND, seconds: SECONDS, rows }, null, 2),
  );
  const table = [
    '| way | clients | writes (failed) | sightings / expected | p50 ms | p99 ms | max ms | sent without a new order | re-executions per write | polls/s | gateway CPU s/min | PostgreSQL CPU s/min | Redis CPU s/min | SQL statements/min | load generator CPU s/min | KiB per idle client |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.way} | ${row.clients} | ${row.writes} (${row.failedWrites}) | ${row.sightings} / ${row.expected} | ${row.p50Ms} | ${row.p99Ms} | ${row.maxMs} | ${row.resultsWithoutNewOrder} | ${row.executionsPerWrite || '–'} | ${row.pollsPerSecond || '–'} | ${row.gatewayCpuSecondsPerMinute} | ${row.postgresCpuSecondsPerMinute} | ${row.redisCpuSecondsPerMinute} | ${row.sqlStatementsPerMinute} | ${row.loadGeneratorCpuSecondsPerMinute} | ${row.kibPerIdleClient || '–'} |`,
    ),
  ].join('\n');
  writeReadmeSection(
    'live',
    `${date}, ${machine}; ${VIEWERS} customers, each with ${CLIENTS / VIEWERS} clients spread over the replicas, place orders on the first replica at ${WRITES_PER_SECOND}/s for ${SECONDS} s per row.\n\n${table}`,
  );
  console.log(`\n${table}\n\nwritten to bench/README.md and bench/results/live-${date}.json`);
}

runBenchmark(main);
