import type { FastifyInstance } from 'fastify';

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
}

function withTimeout(promise: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `/healthz`: the process is alive. `/readyz`: it can serve (Redis and the database answer). */
export function registerHealthRoutes(fastify: FastifyInstance, options: HealthRoutesOptions): void {
  const timeoutMs = options.timeoutMs ?? 1000;
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
    const details = options.details ? await options.details().catch(() => ({})) : undefined;
    void reply.code(isReady ? 200 : 503);
    return {
      status: isReady ? 'ready' : options.isAcceptingTraffic() ? 'unavailable' : 'shutting-down',
      checks: Object.fromEntries(results),
      ...(details ? { details } : {}),
    };
  });
}
