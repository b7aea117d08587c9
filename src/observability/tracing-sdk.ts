// The OpenTelemetry SDK, loaded by tracing.ts only when an OTLP endpoint is set: the one file that
// imports SDK packages. It wires what @opentelemetry/sdk-node's NodeSDK would (a tracer provider,
// a batch processor, an OTLP exporter, the instrumentations), without NodeSDK itself, which also
// brings the metrics and logs SDKs and the gRPC exporters (protobufjs, with an install script).
//
// Configuration is the standard OTEL_* environment, read by the SDK itself: the endpoint and
// headers (OTEL_EXPORTER_OTLP_*), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, the sampler
// (OTEL_TRACES_SAMPLER[_ARG]), the batch processor (OTEL_BSP_*), OTEL_LOG_LEVEL for its own
// diagnostics. Here: which OTLP encoding (OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL).
import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { diagLogLevelFromString } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GraphQLInstrumentation } from '@opentelemetry/instrumentation-graphql';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { defaultResource, detectResources, envDetector, hostDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TracingSdkOptions {
  /** service.name unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) names one. */
  serviceName: string;
}

export interface TracingSdk {
  /** Exports the spans still buffered, then stops; call before the process exits. */
  shutdown(): Promise<void>;
}

/** Probes and health checks would be a trace each, every few seconds, telling nothing. */
const UNTRACED_PATHS = /^\/(healthz|readyz|metrics)(\?|$)/;
const PROTOCOLS = ['http/protobuf', 'http/json'] as const;

function exporterFromEnv() {
  const protocol = (process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
  switch (protocol) {
    case 'http/protobuf':
      return new OtlpProtobufExporter();
    case 'http/json':
      return new OtlpJsonExporter();
    default:
      // Runs before the logger and the config exist (tracing.ts): one line, as a bad setting does.
      process.stderr.write(`streamgate: OTEL_EXPORTER_OTLP_PROTOCOL must be one of ${PROTOCOLS.join(', ')}; got "${protocol}"\n`);
      process.exit(1);
  }
}

export function startTracingSdk({ serviceName }: TracingSdkOptions): TracingSdk {
  diag.setLogger(new DiagConsoleLogger(), diagLogLevelFromString(process.env.OTEL_LOG_LEVEL) ?? DiagLogLevel.WARN);
  // Later resources win: the env's service name over ours over the SDK's "unknown_service".
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': serviceName }))
    .merge(detectResources({ detectors: [processDetector, hostDetector, envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporterFromEnv())] });
  // The default context manager (AsyncLocalStorage) and propagator (W3C traceparent, baggage).
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? '') }),
      new GraphQLInstrumentation({ ignoreTrivialResolveSpans: true, mergeItems: true }),
      // Background loops (the relay's poll, blocking XREADGROUPs) would each be a trace of one
      // span, forever: queries and commands are traced only inside a request or an event's span.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  return { shutdown: () => provider.shutdown() };
}
