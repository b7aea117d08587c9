// Imported first by worker.ts (before anything that loads pg or ioredis): traces the worker process
// when OTEL_EXPORTER_OTLP_ENDPOINT is set (tracing.ts).
import { startTracingIfConfigured } from './tracing';

startTracingIfConfigured('streamgate-worker');
