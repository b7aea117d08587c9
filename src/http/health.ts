// Health and operator routes. /healthz and a bare /readyz status are for load balancers and stay
// on the public port; /metrics and the /readyz details (check errors naming hosts, the outbox
// backlog) are for operators: in production only on the METRICS_PORT listener.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { withTimeout } from './with-timeout';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface HealthRoutesOptions {
  checks: ReadinessCheck[];
  /** False once shutdown began, so load balancers stop routing here before the sockets close. */
  isAcceptingTraffic(): boolean;
  /** Extra facts for the /readyz body; they do not decide readiness. */
  details?: () => Promise<Record<string, unknown>>;
  /** Each check must answer within this. @default 1000 */
  timeoutMs?: number;
  /** Include each check's state and the details in /readyz; otherwise only `status`. @default true */
  showDetails?: boolean;
}

/** `/healthz`: the process is alive. `/readyz`: it can serve (Redis and the database answer). */
export function registerHealthRoutes(fastify: FastifyInstance, options: HealthRoutesOptions): void {
  const timeoutMs = options.timeoutMs ?? 1000;
  const showDetails = options.showDetails ?? true;
  fastify.get('/healthz', async () => ({ status: 'ok' }));
  fastify.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      options.checks.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), timeoutMs);
          return [name, 'ok'] as const;
        } catch (error) {
          return [name, `down: ${error instanceof Error ? error.message : String(error)}`] as const;
        }
      }),
    );
    const isReady = options.isAcceptingTraffic() && results.every(([, state]) => state === 'ok');
    void reply.code(isReady ? 200 : 503);
    const status = isReady ? 'ready' : options.isAcceptingTraffic() ? 'unavailable' : 'shutting-down';
    if (!showDetails) return { status };
    const details = options.details ? await options.details().catch(() => ({})) : undefined;
    return {
      status,
      checks: Object.fromEntries(results),
      ...(details ? { details } : {}),
    };
  });
}

/** `/metrics`: Prometheus text from `registry`. */
export function registerMetricsRoute(fastify: FastifyInstance, registry: Registry): void {
  fastify.get('/metrics', async (_request, reply) => {
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}

export interface OperatorServerOptions extends Omit<HealthRoutesOptions, 'showDetails'> {
  registry: Registry;
  logger: FastifyBaseLogger;
}

/** The METRICS_PORT listener: /metrics, /healthz and /readyz with its details, nothing else. */
export function createOperatorServer({ registry, logger, ...health }: OperatorServerOptions): FastifyInstance {
  // Scrapes and probes every few seconds: not worth a log line each.
  const fastify = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }) });
  registerMetricsRoute(fastify, registry);
  registerHealthRoutes(fastify, { ...health, showDetails: true });
  return fastify;
}
