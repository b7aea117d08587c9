// The trace context an event envelope carries (src/events/event-trace.ts), with an in-memory
// exporter: what goes into the envelope, what each hop's span continues from, and that without a
// registered SDK nothing is added. Also: tracing.ts loads the SDK only when an endpoint is set.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { contextOfEvent, ProcessSpans, traceAppend, traceContextOf, tracePublish, type PublishedRow } from '../../src/events/event-trace';
import type { DomainEvent } from '../../src/events/event-types';

const EVENT_ID = '6f1c0b1e-8c1b-4f43-9c55-0d9f7f3c2a10';

function orderPlaced(traceContext?: DomainEvent['trace']): DomainEvent {
  return {
    id: EVENT_ID,
    type: 'OrderPlaced',
    version: 1,
    occurredAt: '2026-11-23T20:15:02.118Z',
    aggregate: { type: 'Order', id: '42' },
    data: { orderId: 42, userId: 2, status: 'PENDING', totalCents: 100, items: [] },
    ...(traceContext && { trace: traceContext }),
  };
}

const rowOf = (event: DomainEvent): PublishedRow => ({ eventId: event.id, type: event.type, stream: 'orders', payload: event });

describe('without a registered SDK (tracing off)', () => {
  it('puts no trace context in the envelope, and hops continue from the root context', async () => {
    expect(traceContextOf()).toBeUndefined();
    await traceAppend({ id: EVENT_ID, type: 'OrderPlaced' }, async (carried) => expect(carried).toBeUndefined());
    const published: PublishedRow[][] = [];
    await tracePublish([rowOf(orderPlaced())], async (rows) => {
      published.push(rows);
      return [[null, 'ok']];
    });
    expect((published[0]![0]!.payload as DomainEvent).trace).toBeUndefined();
  });
});

describe('with an SDK (in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  let provider: NodeTracerProvider;

  beforeAll(() => {
    // NodeTracerProvider (a BasicTracerProvider) also registers the AsyncLocalStorage context manager that an active span needs.
    provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register({ propagator: new W3CTraceContextPropagator() });
  });

  afterEach(() => exporter.reset());

  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  const finished = (name: string) => exporter.getFinishedSpans().find((span) => span.name === name)!;

  it('appends under the active span and carries the append span in the envelope', async () => {
    const request = trace.getTracer('test').startSpan('request');
    const carried = await context.with(trace.setSpan(context.active(), request), () =>
      traceAppend({ id: EVENT_ID, type: 'OrderPlaced' }, async (traceContext) => traceContext),
    );
    request.end();
    const append = finished('outbox append OrderPlaced');
    expect(append.kind).toBe(SpanKind.PRODUCER);
    expect(append.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(append.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(carried).toEqual({ traceparent: `00-${append.spanContext().traceId}-${append.spanContext().spanId}-01` });
  });

  it('reads back a carried context, and ignores a missing or malformed one', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(trace.getSpanContext(contextOfEvent(orderPlaced({ traceparent, tracestate: 'vendor=1' })))).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      isRemote: true,
    });
    expect(trace.getSpanContext(contextOfEvent(orderPlaced()))).toBeUndefined();
    expect(trace.getSpanContext(contextOfEvent({ trace: { traceparent: 'not a traceparent' } }))).toBeUndefined();
    expect(trace.getSpanContext(contextOfEvent({ trace: 'garbage' }))).toBeUndefined();
    expect(contextOfEvent({ trace: { traceparent: 42 } })).toBe(ROOT_CONTEXT);
  });

  it('publishes each row in a child span of its envelope’s context, and hands on the publish span’s context', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const rows = [rowOf(orderPlaced({ traceparent })), rowOf(orderPlaced())];
    let published: PublishedRow[] = [];
    await tracePublish(rows, async (traced) => {
      published = traced;
      return [
        [null, 'ok'],
        [new Error('LOSTWRITES'), null],
      ];
    });
    const [continued, fresh] = exporter.getFinishedSpans().filter((span) => span.name === 'publish orders');
    expect(continued!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(continued!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(continued!.status.code).not.toBe(SpanStatusCode.ERROR);
    // A row that carried no trace starts one; a row whose reply is an error marks its span failed.
    expect(fresh!.parentSpanContext).toBeUndefined();
    expect(fresh!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'LOSTWRITES' });
    expect((published[0]!.payload as DomainEvent).trace).toEqual({ traceparent: `00-${continued!.spanContext().traceId}-${continued!.spanContext().spanId}-01` });
    // The rows given in are not changed (the relay still holds them).
    expect((rows[0]!.payload as DomainEvent).trace).toEqual({ traceparent });
  });

  it('processes each event in a child span of the publish, and a batch in a span linked to them', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const entries = [
      { event: orderPlaced({ traceparent }), streamId: '1-0', deliveries: 1 },
      { event: orderPlaced(), streamId: '2-0', deliveries: 3 },
    ];
    const spans = new ProcessSpans('notifications', 'sg:{events}:stream:orders', entries);
    const activeInBatch = await spans.inBatch(async () => trace.getActiveSpan()?.spanContext().spanId);
    const activeInEntry = await spans.inEntry(0, async () => trace.getActiveSpan()?.spanContext().traceId);
    spans.fail(1, 'not applied');
    spans.end();

    const processed = exporter.getFinishedSpans().filter((span) => span.name === 'process notifications');
    expect(processed).toHaveLength(2);
    expect(processed[0]!.kind).toBe(SpanKind.CONSUMER);
    expect(processed[0]!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(processed[0]!.attributes).toMatchObject({ 'messaging.consumer.group.name': 'notifications', 'messaging.message.id': EVENT_ID, 'streamgate.stream_id': '1-0' });
    expect(activeInEntry).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(processed[1]!.status.code).toBe(SpanStatusCode.ERROR);
    const batch = finished('process notifications batch');
    expect(activeInBatch).toBe(batch.spanContext().spanId);
    expect(batch.links.map((link) => link.context.spanId)).toEqual(processed.map((span) => span.spanContext().spanId));
  });
});

describe('observability/tracing.ts', () => {
  const sdkPath = '../../src/observability/tracing-sdk';
  const saved = { ...process.env };

  afterEach(() => {
    process.env = { ...saved };
    jest.resetModules();
  });

  /** Starts tracing.ts in a fresh module registry with a stand-in SDK; says whether the SDK was loaded. */
  function start(env: Record<string, string>): { isSdkLoaded: boolean; isStarted: boolean } {
    let isSdkLoaded = false;
    let isStarted = false;
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) delete process.env[name];
    Object.assign(process.env, env);
    jest.isolateModules(() => {
      jest.doMock(sdkPath, () => {
        isSdkLoaded = true;
        return { startTracingSdk: () => ({ shutdown: async () => undefined }) };
      });
      const { startTracingIfConfigured } = jest.requireActual<typeof import('../../src/observability/tracing')>('../../src/observability/tracing');
      isStarted = startTracingIfConfigured('streamgate') !== undefined;
    });
    return { isSdkLoaded, isStarted };
  }

  it('never loads the SDK without an OTLP endpoint', () => {
    expect(start({})).toEqual({ isSdkLoaded: false, isStarted: false });
    expect(start({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toEqual({ isSdkLoaded: false, isStarted: false });
  });

  it('starts it when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set', () => {
    expect(start({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toEqual({ isSdkLoaded: true, isStarted: true });
    expect(start({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toEqual({ isSdkLoaded: true, isStarted: true });
  });
});
