// Imported first by main.ts (before anything that loads http, pg, ioredis or graphql): traces the
// gateway process when OTEL_EXPORTER_OTLP_ENDPOINT is set (tracing.ts).
import { startTracingIfConfigured } from './tracing';

startTracingIfConfigured('streamgate');
