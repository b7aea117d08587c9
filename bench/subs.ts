// `npm run bench:subs`: subscription fan-out. N websocket subscribers spread over the replicas
// (2 with DATABASE_URL, which they share; 1 on PGlite, which one process owns), each subscribed
// to productChanged for one of PRODUCTS products; restockProduct mutations at a fixed rate on the
// first replica. Reports, per N: delivery latency p50/p99 from the event's transaction
// (occurredAt) to the client's receipt, events/s delivered, delivered/expected, and memory per
// idle subscriber (replica RSS growth / N); then the largest N held with p99 < 100 ms.
//
// Then the same on a 3-master Redis Cluster (sharded pub/sub) at BENCH_SUBS_CLUSTER_LEVELS
// (default 1000,10000), with the Redis CPU each row cost (INFO cpu of every node, summed);
// and over Server-Sent Events instead of websockets (standalone Redis) at BENCH_SUBS_SSE_LEVELS
// (default 1000,10000: the first row warms the new replicas up, as the websocket levels do; empty:
// none): one HTTP connection per subscriber, as EventSource holds it. Then an EventSource that
// missed 100 events reconnects with Last-Event-ID and must get exactly those.
//
// Loopback only: its own redis-server (and cluster), gateways as child processes, raw `ws` clients
// in this process speaking graphql-transport-ws, and raw HTTP clients reading the event stream. Bounded: each level runs BENCH_SUBS_SECONDS (default 10).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import WebSocket from 'ws';
import type { GatewayProcess } from '../test/support/gateway-process';
import Redis from 'ioredis';
import { createRedisKeys } from '../src/redis/keys';
import { openSse } from '../test/support/sse-client';
import { startClusterSetup } from '../src/testing/redis-cluster';
import { startRedisServer } from '../src/testing/redis-server';
import { ROOT, percentile, login, prepareDatabase, runBenchmark, writeReadmeSection } from './harness';
import { redisCpuSeconds, startReplicas, stopReplicas, sumMetric, waitFor, type Replica } from './replicas';

const LEVELS = (process.env.BENCH_SUBS_LEVELS ?? '1000,5000,10000,15000').split(',').filter(Boolean).map(Number);
const CLUSTER_LEVELS = (process.env.BENCH_SUBS_CLUSTER_LEVELS ?? '1000,10000').split(',').filter(Boolean).map(Number);
const SSE_LEVELS = (process.env.BENCH_SUBS_SSE_LEVELS ?? '1000,10000').split(',').filter(Boolean).map(Number);
const EVENTS_PER_SECOND = Number(process.env.BENCH_SUBS_RATE ?? 20);
const SECONDS = Number(process.env.BENCH_SUBS_SECONDS ?? 10);
const PRODUCTS = 20;
const CONNECT_CONCURRENCY = 200;
const SUBSCRIPTION = 'subscription ($id: ID!) { productChanged(id: $id) { cursor type occurredAt product { id stock } } }';
const RESTOCK = 'mutation ($id: ID!) { restockProduct(id: $id, quantity: 1) { id } }';

interface Subscribers {
  latencies: number[];
  delivered: number;
  close(): void;
}

/** Opens one graphql-ws subscriber; resolves once its subscribe message is sent after the ack. */
function openWebSocketSubscriber(replica: GatewayProcess, productId: number, onEvent: (occurredAt: string) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(replica.wsUrl, 'graphql-transport-ws');
    socket.once('error', reject);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload?: { data?: { productChanged?: { occurredAt: string } } } };
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION, variables: { id: String(productId) } } }));
        resolve(() => socket.terminate());
      } else if (message.type === 'next' && message.payload?.data?.productChanged) {
        onEvent(message.payload.data.productChanged.occurredAt);
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      }
    });
  });
}

/** Opens one SSE subscriber (GET, as EventSource does); resolves once the stream's headers arrived. */
function openSseSubscriber(replica: GatewayProcess, productId: number, onEvent: (occurredAt: string) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const search = new URLSearchParams({ query: SUBSCRIPTION, variables: JSON.stringify({ id: String(productId) }) });
    // agent: false: a connection of its own per subscriber, as each browser tab's EventSource has.
    const request = http.get(`${replica.url}?${search.toString()}`, { headers: { accept: 'text/event-stream' }, agent: false }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`SSE subscription refused with ${response.statusCode}`));
        return;
      }
      response.setEncoding('utf8');
      let buffered = '';
      response.on('data', (chunk: string) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
          const data = buffered
            .slice(0, end)
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n');
          buffered = buffered.slice(end + 2);
          const event = data ? (JSON.parse(data) as { data?: { productChanged?: { occurredAt: string } } }) : undefined;
          if (event?.data?.productChanged) onEvent(event.data.productChanged.occurredAt);
        }
      });
      resolve(() => request.destroy());
    });
    request.once('error', reject);
  });
}

type Transport = 'websocket' | 'sse';
const OPENERS = { websocket: openWebSocketSubscriber, sse: openSseSubscriber } satisfies Record<Transport, unknown>;

async function openSubscribers(replicas: GatewayProcess[], count: number, transport: Transport): Promise<Subscribers> {
  const result: Subscribers = { latencies: [], delivered: 0, close: () => undefined };
  const closers: Array<() => void> = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const replica = replicas[index % replicas.length]!;
      closers.push(
        await OPENERS[transport](replica, 1 + (index % PRODUCTS), (occurredAt) => {
          result.delivered += 1;
          result.latencies.push(Date.now() - Date.parse(occurredAt));
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  result.close = () => {
    for (const close of closers) close();
  };
  return result;
}

async function runLevel(replicas: Replica[], adminToken: string, count: number, redisPorts: number[], transport: Transport) {
  const rssBefore = await sumMetric(replicas, 'streamgate_process_resident_memory_bytes');
  const subscribers = await openSubscribers(replicas, count, transport);
  await waitFor(async () => (await sumMetric(replicas, 'streamgate_subscriptions_active')) >= count, 60_000, `${count} active subscriptions`);
  const rssAfter = await sumMetric(replicas, 'streamgate_process_resident_memory_bytes');

  const sent: Array<Promise<unknown>> = [];
  const cpuBefore = await redisCpuSeconds(redisPorts);
  // The latencies are taken in this process: its own stalls (GC, 10,000 sockets) count in them.
  const benchLoopDelay = monitorEventLoopDelay({ resolution: 10 });
  benchLoopDelay.enable();
  let mutationErrors = 0;
  const startedAt = Date.now();
  let sequence = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() - startedAt >= SECONDS * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      const productId = 1 + (sequence++ % PRODUCTS);
      sent.push(
        fetch(replicas[0]!.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
          body: JSON.stringify({ query: RESTOCK, variables: { id: String(productId) } }),
        }).then(async (response) => {
          const body = (await response.json()) as { errors?: unknown };
          if (!response.ok || body.errors) mutationErrors += 1;
        }, () => (mutationErrors += 1)),
      );
    }, 1000 / EVENTS_PER_SECOND);
  });
  await Promise.all(sent);
  // Each event goes to the subscribers of its product: count / PRODUCTS of them (rounded per product).
  let expected = 0;
  for (let i = 0; i < sequence; i += 1) {
    const productIndex = i % PRODUCTS;
    expected += Math.floor(count / PRODUCTS) + (productIndex < count % PRODUCTS ? 1 : 0);
  }
  await waitFor(async () => subscribers.delivered >= expected, 30_000, `${expected} deliveries`).catch(() => undefined);
  const elapsedSeconds = (Date.now() - startedAt) / 1000;
  benchLoopDelay.disable();
  const redisCpuMs = Math.round((await redisCpuSeconds(redisPorts)) * 1000 - cpuBefore * 1000);
  subscribers.close();
  await waitFor(async () => (await sumMetric(replicas, 'streamgate_subscriptions_active')) === 0, 60_000, 'subscriptions to end');
  const latencies = subscribers.latencies.sort((a, b) => a - b);
  return {
    redis: redisPorts.length > 1 ? `cluster (${redisPorts.length} masters)` : 'standalone',
    transport,
    subscribers: count,
    eventsPublished: sequence,
    mutationErrors,
    delivered: subscribers.delivered,
    expected,
    deliveredPerSecond: Math.round(subscribers.delivered / elapsedSeconds),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies.at(-1) ?? 0,
    kibPerIdleSubscriber: Math.round((rssAfter - rssBefore) / count / 1024),
    /** Redis CPU during the row, per 1,000 deliveries. */
    redisCpuMsPer1000: Math.round((redisCpuMs / Math.max(1, subscribers.delivered)) * 1000 * 10) / 10,
    /** The bench process's own event-loop delay during the row (its p99 and max, ms). */
    benchLoopDelayP99Ms: Math.round(benchLoopDelay.percentile(99) / 1e6),
    benchLoopDelayMaxMs: Math.round(benchLoopDelay.max / 1e6),
  };
}

const RESUME_MISSED = 100;
const RESUME_PRODUCT = '1';

async function restock(replica: Replica, adminToken: string, productId: string): Promise<void> {
  const response = await fetch(replica.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ query: RESTOCK, variables: { id: productId } }),
  });
  const body = (await response.json()) as { errors?: unknown };
  if (!response.ok || body.errors) throw new Error(`restock failed: ${JSON.stringify(body)}`);
}

/**
 * An EventSource that lost its connection: it got an event on the last replica, hangs up, misses
 * RESUME_MISSED restocks made on the first, and reconnects to the last with `Last-Event-ID`. It must
 * get exactly the stream's events of that product after the id, in order, then the next live one.
 */
async function measureSseResume(replicas: Replica[], adminToken: string, redisUrl: string) {
  const [writer, reader] = [replicas[0]!, replicas.at(-1)!];
  const variables = { id: RESUME_PRODUCT };
  const first = await openSse(reader.url, { query: SUBSCRIPTION, variables });
  await restock(writer, adminToken, RESUME_PRODUCT);
  const [seen] = await first.waitForNext(1, 30_000);
  first.close();
  for (let i = 0; i < RESUME_MISSED; i += 1) await restock(writer, adminToken, RESUME_PRODUCT);

  const reconnectedAt = performance.now();
  const resumed = await openSse(reader.url, { query: SUBSCRIPTION, variables, lastEventId: seen!.id });
  const redis = new Redis(redisUrl);
  try {
    await resumed.waitForNext(RESUME_MISSED, 30_000);
    const replayMs = Math.round(performance.now() - reconnectedAt);
    await restock(writer, adminToken, RESUME_PRODUCT);
    const received = await resumed.waitForNext(RESUME_MISSED + 1, 30_000);
    // What the stream holds for the product after the event seen (the relay has published it all: the client got it).
    const inStream = (await redis.xrange(createRedisKeys('sg').stream('catalog'), `(${seen!.id}`, '+'))
      .map(([streamId, fields]) => ({ streamId, event: JSON.parse(fields[fields.indexOf('event') + 1]!) as { aggregate: { type: string; id: string } } }))
      .filter(({ event }) => event.aggregate.type === 'Product' && event.aggregate.id === RESUME_PRODUCT)
      .map(({ streamId }) => streamId);
    const ids = received.map((event) => event.id);
    return { missed: RESUME_MISSED, received: ids.length - 1, isExact: JSON.stringify(ids) === JSON.stringify(inStream) && ids.length === RESUME_MISSED + 1, replayMs, acrossReplicas: replicas.length > 1 };
  } finally {
    resumed.close();
    redis.disconnect();
  }
}

/** Starts the replicas on `redisEnv`, runs `levels`, stops them. */
async function runLevels(databaseEnv: Record<string, string>, redisEnv: Record<string, string>, redisPorts: number[], levels: number[], transport: Transport = 'websocket') {
  const replicas = await startReplicas(databaseEnv.DATABASE_URL ? 2 : 1, { ...databaseEnv, ...redisEnv });
  const rows = [];
  let resume: Awaited<ReturnType<typeof measureSseResume>> | undefined;
  try {
    const adminToken = await login(replicas[0]!, 'admin@streamgate.dev', 'admin-password');
    for (const count of levels) {
      const row = await runLevel(replicas, adminToken, count, redisPorts, transport);
      console.log(JSON.stringify(row));
      rows.push(row);
    }
    if (transport === 'sse') {
      resume = await measureSseResume(replicas, adminToken, redisEnv.REDIS_URL!);
      console.log(JSON.stringify({ sseResume: resume }));
    }
  } finally {
    await stopReplicas(replicas);
  }
  return { rows, resume };
}

function describeResume(resume: Awaited<ReturnType<typeof measureSseResume>>): string {
  const where = resume.acrossReplicas ? 'on the other replica than the writes' : 'on the one replica';
  return (
    `SSE resume: a subscriber that missed ${resume.missed} events reconnected with \`Last-Event-ID\` ${where} and got ` +
    `${resume.received} events, ${resume.isExact ? 'exactly the missed ones in order, then the next live one' : '**not exactly the missed ones**'} ` +
    `(the ${resume.missed} in ${resume.replayMs} ms from the reconnect).`
  );
}

async function main(): Promise<void> {
  const databaseEnv = prepareDatabase();
  const replicaCount = databaseEnv.DATABASE_URL ? 2 : 1;
  const redisServer = await startRedisServer();
  try {
    const { rows } = await runLevels(databaseEnv, { REDIS_URL: redisServer.url }, [redisServer.port], LEVELS);
    const sse = SSE_LEVELS.length > 0 ? await runLevels(databaseEnv, { REDIS_URL: redisServer.url }, [redisServer.port], SSE_LEVELS, 'sse') : undefined;
    rows.push(...(sse?.rows ?? []));
    if (CLUSTER_LEVELS.length > 0) {
      const cluster = await startClusterSetup();
      try {
        rows.push(...(await runLevels(databaseEnv, { REDIS_CLUSTER_NODES: cluster.nodeList }, cluster.servers.map((server) => server.port), CLUSTER_LEVELS)).rows);
      } finally {
        await cluster.stop();
      }
    }
    const held = rows.filter((row) => row.redis === 'standalone' && row.transport === 'websocket' && row.p99Ms < 100 && row.delivered >= row.expected).map((row) => row.subscribers);
    const largestHeld = held.length ? Math.max(...held) : 0;

    const date = new Date().toISOString().slice(0, 10);
    const machine = `${process.platform} ${process.arch}, ${os.cpus().length} cores, Node ${process.version}, ${replicaCount} replica(s) on ${databaseEnv.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}`;
    fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    fs.writeFileSync(
      path.join(ROOT, `bench/results/subs-${date}.json`),
      JSON.stringify({ date, machine, eventsPerSecond: EVENTS_PER_SECOND, products: PRODUCTS, seconds: SECONDS, rows, largestHeld, sseResume: sse?.resume }, null, 2),
    );
    const table = [
      '| Redis | transport | subscribers | events published | delivered / expected | deliveries/s | p50 ms | p99 ms | max ms | KiB per idle subscriber | Redis CPU ms per 1,000 deliveries | bench process loop delay p99 / max ms |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        (row) =>
          `| ${row.redis} | ${row.transport} | ${row.subscribers} | ${row.eventsPublished} | ${row.delivered} / ${row.expected} | ${row.deliveredPerSecond} | ${row.p50Ms} | ${row.p99Ms} | ${row.maxMs} | ${row.kibPerIdleSubscriber} | ${row.redisCpuMsPer1000} | ${row.benchLoopDelayP99Ms} / ${row.benchLoopDelayMaxMs} |`,
      ),
    ].join('\n');
    writeReadmeSection(
      'subs',
      `${date}, ${machine}; ${EVENTS_PER_SECOND} events/s over ${PRODUCTS} products for ${SECONDS} s per row ` +
        `(each subscriber gets ${EVENTS_PER_SECOND / PRODUCTS} event/s).\n\n${table}\n\nLargest N held with p99 < 100 ms (standalone, websocket): **${largestHeld}**.` +
        (sse?.resume ? `\n\n${describeResume(sse.resume)}` : ''),
    );
    console.log(`\n${table}\n\nlargest N with p99 < 100 ms: ${largestHeld}\nwritten to bench/README.md and bench/results/subs-${date}.json`);
  } finally {
    await redisServer.stop();
  }
}

runBenchmark(main);
