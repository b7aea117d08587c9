// Tracing is opt-in: it starts only when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). Otherwise the SDK and the instrumentations are never
// loaded, and the app's own spans (events/event-trace.ts) are the no-ops of @opentelemetry/api.
//
// Instrumentations patch modules as they are required, so this runs before anything else loads:
// main.ts and worker.ts import tracing.gateway.ts / tracing.worker.ts first. The require below is
// synchronous on purpose: a dynamic import() would let the next requires (http, pg, ioredis,
// graphql) go through unpatched.
import type { TracingSdk } from './tracing-sdk';

/** The SDK once started in this process. */
let started: TracingSdk | undefined;

/** The variables that turn tracing on (the standard OTLP exporter ones). */
export const TRACING_ENDPOINT_VARIABLES = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] as const;

export function isTracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return TRACING_ENDPOINT_VARIABLES.some((name) => (env[name] ?? '').trim() !== '');
}

/**
 * Starts the SDK (tracing-sdk.ts) when an endpoint is set; returns it, or undefined when tracing is
 * off. `serviceName` is the default for OTEL_SERVICE_NAME.
 */
export function startTracingIfConfigured(serviceName: string): TracingSdk | undefined {
  if (!isTracingConfigured()) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when on, and synchronously (see above)
  const { startTracingSdk } = require('./tracing-sdk') as typeof import('./tracing-sdk');
  started ??= startTracingSdk({ serviceName });
  return started;
}

/** Exports the spans still buffered (the last second of a process that exits); nothing when off. */
export async function stopTracing(): Promise<void> {
  await started?.shutdown().catch(() => undefined);
}
