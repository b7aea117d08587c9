// Shared by the benchmarks: the seeded database (seeded once), the gateway's /metrics, autocannon
// load with every response checked, and logins.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import autocannon, { type Result } from 'autocannon';
import type { GatewayProcess } from '../test/support/gateway-process';

export const ROOT = path.join(__dirname, '..');
export const SIZES = { users: 10_000, products: 2_000, orders: 100_000 };
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
export const DURATION_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/** Warm-up before each measured run of `npm run bench`. */
export const WARMUP_SECONDS = 3;
/**
 * How `npm start` runs the gateway (see package.json); BENCH_GATEWAY_NODE_OPTIONS adds to it, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/profiles` for a CPU profile of the gateway over the whole run.
 */
const GATEWAY_NODE_OPTIONS = `--max-semi-space-size=64 ${process.env.BENCH_GATEWAY_NODE_OPTIONS ?? ''}`.trim();

/**
 * What every benchmarked gateway runs with: its Node options, and budgets that are still checked on
 * every request (their Redis work is part of what is measured) but large enough that the load
 * generator, one client at one address, is never throttled: the query cost budget
 * (GRAPHQL_COST_BUDGET), and the bytes of whole responses one client may store per TTL
 * (CACHE_RESPONSE_CLIENT_BUDGET_BYTES: every anonymous read of the bench comes from 127.0.0.1, where
 * a real deployment's anonymous readers come from many addresses).
 */
export const GATEWAY_BENCH_ENV = {
  NODE_OPTIONS: GATEWAY_NODE_OPTIONS,
  GRAPHQL_COST_BUDGET: '1000000000',
  CACHE_RESPONSE_CLIENT_BUDGET_BYTES: String(64 * 1024 * 1024),
} as const;

function seedIfNeeded(env: NodeJS.ProcessEnv, marker: string): void {
  if (fs.existsSync(marker)) return;
  console.log(`seeding ${SIZES.users} users / ${SIZES.products} products / ${SIZES.orders} orders (once)...`);
  execFileSync(
    process.execPath,
    ['-r', './scripts/register-swc.js', 'src/cli/seed.ts', '--users', `${SIZES.users}`, '--products', `${SIZES.products}`, '--orders', `${SIZES.orders}`],
    { cwd: ROOT, env, stdio: 'inherit' },
  );
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  fs.writeFileSync(marker, new Date().toISOString());
}

/** Where the bench data lives: PGlite in .data/bench, or a `streamgate_bench` database next to DATABASE_URL. */
export function prepareDatabase(): Record<string, string> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const dir = path.join(ROOT, '.data/bench/pglite');
    seedIfNeeded({ ...process.env, PGLITE_DIR: dir }, path.join(ROOT, '.data/bench/pglite.seeded'));
    return { PGLITE_DIR: dir };
  }
  const url = new URL(baseUrl);
  url.pathname = '/streamgate_bench';
  try {
    execFileSync('psql', [baseUrl, '-c', 'create database streamgate_bench'], { stdio: 'ignore' });
  } catch {
    // already there
  }
  seedIfNeeded({ ...process.env, DATABASE_URL: url.toString() }, path.join(ROOT, '.data/bench/postgres.seeded'));
  return { DATABASE_URL: url.toString() };
}

/** A port nothing listens on now, for a gateway's METRICS_PORT. */
export { freePort } from '../src/testing/redis-server';

/** The value at quantile `p` of an ascending array (0 when empty). */
export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
export const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
/** The middle value (the upper one of an even count), e.g. of a row's windows. */
export const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 0.5);

/**
 * Where a gateway serves /metrics: `metricsUrl` when it was started with a METRICS_PORT (in
 * production that is the only place), else its API port (outside production).
 */
export type MetricsSource = Pick<GatewayProcess, 'url'> & { metricsUrl?: string };

/** A counter of the gateway's /metrics, or null when the gateway has no such metric. */
export async function metricOrNull(gateway: MetricsSource, name: string): Promise<number | null> {
  const text = await (await fetch(gateway.metricsUrl ?? gateway.url.replace(/\/graphql$/, '/metrics'))).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : null;
}

export async function metric(gateway: MetricsSource, name: string): Promise<number> {
  return (await metricOrNull(gateway, name)) ?? 0;
}

/** The `data` of a good GraphQL response (no `errors`, every root field non-null), else null. */
export function goodData(body: string | Buffer | undefined): Record<string, unknown> | null {
  try {
    const parsed = JSON.parse(String(body)) as { data?: Record<string, unknown> | null; errors?: unknown };
    return !parsed.errors && !!parsed.data && Object.values(parsed.data).every((value) => value !== null) ? parsed.data : null;
  } catch {
    return null;
  }
}

export function isGoodBody(body: string | Buffer | undefined): boolean {
  return goodData(body) !== null;
}

export function load(gateway: Pick<GatewayProcess, 'url'>, body: () => string, headers: () => Record<string, string>, limit: { seconds?: number; requests?: number }) {
  return new Promise<Result>((resolve, reject) => {
    autocannon(
      {
        url: gateway.url,
        method: 'POST',
        connections: CONNECTIONS,
        ...(limit.requests ? { amount: limit.requests } : { duration: limit.seconds }),
        requests: [
          {
            setupRequest: (request) => ({
              ...request,
              body: body(),
              headers: { 'content-type': 'application/json', ...headers() },
            }),
          },
        ],
        verifyBody: isGoodBody,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
}

export async function login(gateway: Pick<GatewayProcess, 'url'>, email: string, password = 'password'): Promise<string> {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }', variables: { email, password } }),
  });
  const body = (await response.json()) as { data?: { login: { token: string } } };
  if (!body.data) throw new Error(`login failed for ${email}: ${JSON.stringify(body)}`);
  return body.data.login.token;
}


/** Replaces the `<!-- name:start -->` … `<!-- name:end -->` section of bench/README.md with `body`. */
export function writeReadmeSection(name: string, body: string): void {
  const readmePath = path.join(ROOT, 'bench/README.md');
  const readme = fs.readFileSync(readmePath, 'utf8');
  const section = `<!-- ${name}:start -->\n${body}\n<!-- ${name}:end -->`;
  const pattern = new RegExp(`<!-- ${name}:start -->[\\s\\S]*<!-- ${name}:end -->`);
  fs.writeFileSync(readmePath, pattern.test(readme) ? readme.replace(pattern, () => section) : `${readme}\n${section}\n`);
}

/** Runs a benchmark and exits with its outcome (its own `finally` stops what it started). */
export function runBenchmark(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
