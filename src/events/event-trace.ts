// One trace from a mutation to the projections, across the outbox and the streams: the envelope
// carries the W3C trace context (`trace: { traceparent, tracestate? }`, docs/events.md) of the span
// that wrote it, and each hop starts its span as a child of the context it received:
//
//   mutation (HTTP, GraphQL) → outbox append <type> → publish <stream> (relay) → process <group> (consumer)
//
// Child, not link: each hop exists because of that one mutation, and a trace backend shows the
// whole path only when the spans share its trace id. The relay replaces the envelope's context
// with its publish span's, so consumers hang under the publish. A batch a projection applies at
// once is one more span, linked to its events' spans (a span has one parent; the batch has many).
//
// Only @opentelemetry/api here: without a registered SDK (tracing off, observability/tracing.ts)
// every span is a no-op, the propagator injects nothing, and envelopes carry no `trace`.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { DomainEvent, EventTraceContext } from './event-types';

const tracer = trace.getTracer('streamgate');

/** The W3C trace context of `ctx`, as an envelope carries it; undefined when nothing is traced. */
export function traceContextOf(ctx: Context = context.active()): EventTraceContext | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (!carrier.traceparent) return undefined;
  return carrier.tracestate ? { traceparent: carrier.traceparent, tracestate: carrier.tracestate } : { traceparent: carrier.traceparent };
}

/** The context an envelope's trace continues from; the root context when it carries none (or garbage). */
export function contextOfEvent(event: { trace?: unknown }): Context {
  const carried = event.trace as Partial<Record<string, unknown>> | undefined;
  if (typeof carried?.traceparent !== 'string') return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent: carried.traceparent };
  if (typeof carried.tracestate === 'string') carrier.tracestate = carried.tracestate;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** Runs `work` in a span, ending it (with the error, if `work` throws) when `work` settles. */
async function inSpan<Result>(span: Span, parent: Context, work: () => Promise<Result>): Promise<Result> {
  try {
    return await context.with(trace.setSpan(parent, span), work);
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

function failed(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/**
 * The outbox insert of a new event, in the mutation's transaction: `work` gets the trace context to
 * put in the envelope (this span's, a child of the mutation's).
 */
export function traceAppend<Result>(event: Pick<DomainEvent, 'id' | 'type'>, work: (trace: EventTraceContext | undefined) => Promise<Result>): Promise<Result> {
  const span = tracer.startSpan(`outbox append ${event.type}`, {
    kind: SpanKind.PRODUCER,
    attributes: { 'messaging.operation.type': 'create', 'messaging.message.id': event.id, 'streamgate.event.type': event.type },
  });
  const parent = context.active();
  return inSpan(span, parent, () => work(traceContextOf(trace.setSpan(parent, span))));
}

/** What the relay publishes of an outbox row (db/schema OutboxRow). */
export interface PublishedRow {
  eventId: string;
  type: string;
  stream: string;
  payload: unknown;
}

/**
 * Publishes rows with one span per row, `publish <stream>`, each a child of the context its
 * envelope carries; `publish` gets copies of the rows whose envelopes carry their span's context.
 * `publish` resolves with one `[error, reply]` per row, in order (as a pipeline does).
 */
export async function tracePublish<Row extends PublishedRow, Results extends Array<[Error | null, unknown]>>(
  rows: Row[],
  publish: (rows: Row[]) => Promise<Results>,
): Promise<Results> {
  const spans = rows.map((row) =>
    tracer.startSpan(
      `publish ${row.stream}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: { 'messaging.operation.type': 'send', 'messaging.destination.name': row.stream, 'messaging.message.id': row.eventId, 'streamgate.event.type': row.type },
      },
      contextOfEvent(row.payload as DomainEvent),
    ),
  );
  const traced = rows.map((row, index) => {
    const carried = traceContextOf(trace.setSpan(ROOT_CONTEXT, spans[index]!));
    return carried ? { ...row, payload: { ...(row.payload as DomainEvent), trace: carried } } : row;
  });
  // One round trip for the batch: its Redis commands belong to the row's span only when it is alone.
  const batchContext = spans.length === 1 ? trace.setSpan(ROOT_CONTEXT, spans[0]!) : ROOT_CONTEXT;
  try {
    const results = await context.with(batchContext, () => publish(traced));
    spans.forEach((span, index) => {
      const [error] = results[index] ?? [new Error('no reply')];
      if (error) failed(span, error);
    });
    return results;
  } catch (error) {
    for (const span of spans) failed(span, error);
    throw error;
  } finally {
    for (const span of spans) span.end();
  }
}

export interface ProcessedEntry {
  event: DomainEvent;
  streamId: string;
  deliveries: number;
}

/**
 * The consumer's spans for one batch read from a stream: `process <group>` per event (a child of
 * the publish), and `process <group> batch` (linked to those) around a batch handler's work. Call
 * `end` once the batch is acknowledged.
 */
export class ProcessSpans {
  private readonly spans: Span[];

  constructor(
    private readonly group: string,
    stream: string,
    entries: readonly ProcessedEntry[],
  ) {
    this.spans = entries.map(({ event, streamId, deliveries }) => {
      const attributes: Attributes = {
        'messaging.operation.type': 'process',
        'messaging.destination.name': stream,
        'messaging.consumer.group.name': group,
        'messaging.message.id': event.id,
        'streamgate.event.type': event.type,
        'streamgate.stream_id': streamId,
        'streamgate.deliveries': deliveries,
      };
      return tracer.startSpan(`process ${group}`, { kind: SpanKind.CONSUMER, attributes }, contextOfEvent(event));
    });
  }

  /** Runs a batch handler's work in a span linked to every event's. */
  inBatch<Result>(work: () => Promise<Result>): Promise<Result> {
    const links = this.spans.map((span) => ({ context: span.spanContext() }));
    const span = tracer.startSpan(`process ${this.group} batch`, { kind: SpanKind.CONSUMER, links, attributes: { 'messaging.batch.message_count': this.spans.length } }, ROOT_CONTEXT);
    return inSpan(span, ROOT_CONTEXT, work);
  }

  /** Runs one event's own handling in its span. */
  inEntry<Result>(index: number, work: () => Promise<Result>): Promise<Result> {
    const span = this.spans[index];
    return span ? context.with(trace.setSpan(ROOT_CONTEXT, span), work) : work();
  }

  /** The event was not applied (it stays pending, or was dead-lettered). */
  fail(index: number, reason: string): void {
    const span = this.spans[index];
    if (span) failed(span, new Error(reason));
  }

  end(): void {
    for (const span of this.spans) span.end();
  }
}
