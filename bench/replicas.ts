// Shared by the benchmarks that hold many connections (bench:subs, bench:live): gateway replicas as
// child processes, each with an operator listener for /metrics (production serves none on the API
// port), sums of a metric over them, Redis CPU and waits on a condition.
import Redis from 'ioredis';
import { startGatewayProcess, type GatewayProcess } from '../test/support/gateway-process';
import { GATEWAY_BENCH_ENV, freePort, metric } from './harness';

/** A replica and where its /metrics is served (its METRICS_PORT). */
export type Replica = GatewayProcess & { metricsUrl: string };

/**
 * `count` production replicas on `env` (database and Redis variables), with connection limits
 * raised for one load generator at one address. The caller stops them.
 */
export async function startReplicas(count: number, env: Record<string, string>): Promise<Replica[]> {
  const replicas: Replica[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const metricsPort = await freePort();
      const replica = await startGatewayProcess({
        env: {
          ...env,
          NODE_ENV: 'production',
          LOG_LEVEL: 'info', // readiness is the "ready at" info line
          SEED_DEMO_DATA: 'false',
          ...GATEWAY_BENCH_ENV,
          WS_MAX_CONNECTIONS: '100000',
          METRICS_PORT: String(metricsPort),
        },
        readyTimeoutMs: 120_000,
      });
      replicas.push(Object.assign(replica, { metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` }));
    }
  } catch (error) {
    await stopReplicas(replicas);
    throw error;
  }
  return replicas;
}

export async function stopReplicas(replicas: Replica[]): Promise<void> {
  for (const replica of replicas) await replica.stop();
}

export async function sumMetric(replicas: Replica[], name: string): Promise<number> {
  const values = await Promise.all(replicas.map((replica) => metric(replica, name)));
  return values.reduce((sum, value) => sum + value, 0);
}

/** Polls `condition` (state in other processes, which sends no event here) until true or `timeoutMs`. */
export async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** CPU seconds (user + system) every Redis node has used so far, summed. */
export async function redisCpuSeconds(ports: number[]): Promise<number> {
  const seconds = await Promise.all(
    ports.map(async (port) => {
      const connection = new Redis(port, '127.0.0.1');
      try {
        const info = await connection.info('cpu');
        const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
        return field('used_cpu_user') + field('used_cpu_sys');
      } finally {
        connection.disconnect();
      }
    }),
  );
  return seconds.reduce((sum, value) => sum + value, 0);
}

