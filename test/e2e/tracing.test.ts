// Tracing as a deployment runs it: real gateway (and, on PostgreSQL, worker) processes with
// OTEL_EXPORTER_OTLP_ENDPOINT set, exporting to an OTLP receiver in this process. Processes, not an
// in-process app: the instrumentations patch http, pg, ioredis and graphql through Node's require,
// which Jest's module loader bypasses. Each request sends its own `traceparent`, so the test knows
// its trace id, and checks that the HTTP instrumentation continued it.
//
// On embedded PGlite the gateway runs the projections itself (no worker may open the database) and
// there is no node-postgres to trace; on PostgreSQL a worker process runs them, and pg is traced.
import { randomBytes } from 'node:crypto';
import { createGatewayDatabase, startGatewayProcess, type GatewayDatabase, type GatewayProcess } from '../support/gateway-process';
import { PLACE_ORDER, line } from '../support/documents';
import { login, postGraphQL } from '../support/graphql';
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

const isOnPostgres = Boolean(process.env.DATABASE_URL);

/** A fresh W3C traceparent (sampled) and its trace id. */
function newTraceparent(): { traceId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
}

const inTrace = (spans: ReceivedSpan[], traceId: string) => spans.filter((span) => span.traceId === traceId);

/** Whether `span` descends from `ancestor`, following parent ids among `spans`. */
function descendsFrom(span: ReceivedSpan, ancestor: ReceivedSpan, spans: ReceivedSpan[]): boolean {
  const byId = new Map(spans.map((candidate) => [candidate.spanId, candidate]));
  for (let current = byId.get(span.parentSpanId); current; current = byId.get(current.parentSpanId)) {
    if (current.spanId === ancestor.spanId) return true;
  }
  return false;
}

describe('tracing (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  let receiver: OtlpReceiver;
  let testRedis: TestRedis;
  let database: GatewayDatabase | undefined;
  let gateway: GatewayProcess;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    testRedis = await startTestRedis();
    const tracingEnv = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      // Export within a tenth of a second, so the waits below are short.
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    const databaseEnv = isOnPostgres ? (database = await createGatewayDatabase()).env : {};
    gateway = await startGatewayProcess({ env: { ...testRedis.env, ...databaseEnv, ...tracingEnv } });
    if (isOnPostgres) worker = await startWorkerProcess({ env: { ...testRedis.env, ...databaseEnv, ...tracingEnv, WORKER_BLOCK_MS: '1000' } });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await gateway?.stop();
    await receiver?.close();
    await database?.dispose();
    await testRedis?.stop();
  });

  it('traces a query: the HTTP server span continues the caller’s trace, with GraphQL, Redis and SQL under it', async () => {
    const { traceId, traceparent } = newTraceparent();
    const response = await postGraphQL(gateway, '{ product(id: "3") { id name } products(first: 2) { edges { node { id } } } }', { headers: { traceparent } });
    expect(response.body.errors).toBeUndefined();

    const spans = inTrace(
      await receiver.waitFor((all) => inTrace(all, traceId).some((span) => span.kind === SPAN_KIND.server), 'the request’s spans arrived'),
      traceId,
    );
    const server = spans.find((span) => span.kind === SPAN_KIND.server && span.scope === '@opentelemetry/instrumentation-http');
    expect(server).toMatchObject({ service: 'streamgate', name: 'POST' });
    const execution = spans.find((span) => span.scope === '@opentelemetry/instrumentation-graphql' && span.name.startsWith('query'));
    expect(execution).toBeDefined();
    expect(descendsFrom(execution!, server!, spans)).toBe(true);
    const redisCommands = spans.filter((span) => span.scope === '@opentelemetry/instrumentation-ioredis');
    expect(redisCommands.length).toBeGreaterThan(0);
    for (const command of redisCommands) expect(descendsFrom(command, server!, spans)).toBe(true);
    if (isOnPostgres) {
      const queries = spans.filter((span) => span.scope === '@opentelemetry/instrumentation-pg' && span.kind === SPAN_KIND.client);
      expect(queries.length).toBeGreaterThan(0);
      for (const query of queries) expect(descendsFrom(query, server!, spans)).toBe(true);
    }
  });

  it('continues a mutation’s trace through the outbox, the relay and the stream to each projection', async () => {
    const token = await login(gateway, 'alice@streamgate.dev', 'alice-password');
    const { traceId, traceparent } = newTraceparent();
    const response = await postGraphQL<{ placeOrder: { id: string } }>(gateway, PLACE_ORDER, {
      variables: { input: { items: [line(2)] } },
      token,
      headers: { traceparent },
    });
    expect(response.body.errors).toBeUndefined();

    const projected = (spans: ReceivedSpan[]) => new Set(inTrace(spans, traceId).filter((span) => span.name.startsWith('process ')).map((span) => span.name));
    const spans = inTrace(
      await receiver.waitFor((all) => projected(all).has('process notifications') && projected(all).has('process top-products'), 'both projections’ spans arrived'),
      traceId,
    );
    const server = spans.find((span) => span.kind === SPAN_KIND.server)!;
    const append = spans.find((span) => span.name === 'outbox append OrderPlaced');
    const publish = spans.find((span) => span.name === 'publish orders');
    expect(server).toMatchObject({ service: 'streamgate' });
    expect(append).toMatchObject({ service: 'streamgate', kind: SPAN_KIND.producer });
    expect(descendsFrom(append!, server, spans)).toBe(true);
    // The relay publishes in the background, as a child of the append (the context the outbox row carried).
    expect(publish).toMatchObject({ service: 'streamgate', kind: SPAN_KIND.producer, parentSpanId: append!.spanId });
    const processing = spans.filter((span) => span.name.startsWith('process ') && !span.name.endsWith(' batch'));
    // The projections run in the worker process on PostgreSQL, in the gateway on PGlite.
    const projectionService = isOnPostgres ? 'streamgate-worker' : 'streamgate';
    for (const span of processing) {
      expect(span).toMatchObject({ service: projectionService, kind: SPAN_KIND.consumer, parentSpanId: publish!.spanId });
      expect(span.attributes).toMatchObject({ 'messaging.message.id': append!.attributes['messaging.message.id'], 'streamgate.event.type': 'OrderPlaced' });
    }
  });
});
