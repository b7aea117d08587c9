// Environment → typed, frozen configuration. Every setting the gateway reads lives here, with its
// default; a bad value stops the process with one line naming the variable (see main.ts).
import { z } from 'zod';
import { loadTrustedDocumentList } from './http/trusted-documents-file';

const booleanFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** "host:port,host:port" (Sentinel addresses), each port 1-65535; parsed into a list. */
const hostPortList = z
  .string()
  .transform((value, context): readonly RedisHostPort[] => {
    const entries = value.split(',').map((entry) => entry.trim());
    const parsed: RedisHostPort[] = [];
    for (const entry of entries) {
      const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65_535) {
        context.addIssue({ code: 'custom', message: `expected "host:port,host:port", and "${entry}" is not a host:port` });
        return z.NEVER;
      }
      parsed.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
    }
    return Object.freeze(parsed);
  });

const sentinelName = z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and "_.:-" only');

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: integer(0, 65_535).default(4000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** PostgreSQL connection string; when unset the gateway runs on embedded PGlite. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  /** Where embedded PGlite keeps its files; "memory://" keeps nothing. */
  PGLITE_DIR: z.string().min(1).default('.data/pglite'),
  DATABASE_POOL_SIZE: integer(1, 200).default(10),
  /** How often a gateway or worker on PostgreSQL reads the database's identity (a restored or recreated database announces nothing). */
  DATABASE_IDENTITY_CHECK_MS: integer(100, 3_600_000).default(2000),
  /**
   * Seed deterministic demo data (with well-known demo passwords) when the database has no users
   * yet. Defaults to on for embedded PGlite only, so a real PostgreSQL never gets demo admins unasked.
   */
  SEED_DEMO_DATA: booleanFromEnv.optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .default('redis://127.0.0.1:6379'),
  /**
   * A separate Redis for cache entries and cached responses, which may evict (allkeys-lru) while
   * REDIS_URL keeps sessions, streams, markers and locks (noeviction, AOF). Default: REDIS_URL.
   */
  REDIS_CACHE_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  /**
   * Sentinels to ask for the durable Redis ("host:port,host:port"): every connection (commands,
   * subscribers, the relay, workers) then goes to the master they name and follows a failover.
   * Setting both this and REDIS_URL is an error; unset: REDIS_URL (standalone).
   */
  REDIS_SENTINELS: hostPortList.optional(),
  /** The master's name in the sentinels' configuration. */
  REDIS_SENTINEL_NAME: sentinelName.default('mymaster'),
  /**
   * Sentinels for the cache's own master (REDIS_CACHE_URL's Sentinel form; not both). Default:
   * REDIS_SENTINELS when only REDIS_CACHE_SENTINEL_NAME is set.
   */
  REDIS_CACHE_SENTINELS: hostPortList.optional(),
  /** The cache master's name in the sentinels' configuration. Default: REDIS_SENTINEL_NAME. */
  REDIS_CACHE_SENTINEL_NAME: sentinelName.optional(),
  /**
   * Nodes of a Redis Cluster for the durable role ("host:port,host:port": any of them, the rest is
   * discovered). Subscription channels then use sharded pub/sub. Not with REDIS_URL or REDIS_SENTINELS.
   */
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  /** Nodes of a Redis Cluster of the cache's own (REDIS_CACHE_URL's Cluster form; not both). */
  REDIS_CACHE_CLUSTER_NODES: hostPortList.optional(),
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only')
    .default('sg'),
  REDIS_CONNECT_TIMEOUT_MS: integer(100, 60_000).default(2000),
  /** Sliding lifetime of a session: each authenticated request extends it to this. */
  SESSION_TTL_SECONDS: integer(60, 90 * 24 * 3600).default(7 * 24 * 3600),
  /** Introspection (the playground's docs explorer needs it); on by default outside production. */
  GRAPHQL_INTROSPECTION: booleanFromEnv.optional(),
  /** The GraphiQL playground at /graphql (and `/` redirecting there); on by default outside production. */
  GRAPHQL_PLAYGROUND: booleanFromEnv.optional(),
  GRAPHQL_MAX_DEPTH: integer(2, 50).default(10),
  GRAPHQL_MAX_COST: integer(100, 1_000_000).default(20_000),
  GRAPHQL_MAX_ALIASES: integer(1, 1000).default(30),
  GRAPHQL_MAX_TOKENS: integer(100, 100_000).default(2000),
  /**
   * The trusted documents: codegen's persisted-documents.json, read and checked here, at start (a
   * missing or malformed file is a configuration error). Unset: any document runs.
   */
  GRAPHQL_TRUSTED_DOCUMENTS: z
    .string()
    .min(1)
    .transform((path, context) => {
      try {
        return loadTrustedDocumentList(path);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  /** audit: documents outside the list run, counted and logged; enforce: they are refused (PERSISTED_QUERY_NOT_IN_LIST). */
  GRAPHQL_TRUSTED_DOCUMENTS_MODE: z.enum(['audit', 'enforce']).default('audit'),
  /** Failed logins one client address may make at one email per window; a success clears them. */
  LOGIN_MAX_FAILURES: integer(1, 1000).default(10),
  LOGIN_FAILURE_WINDOW_SECONDS: integer(1, 86_400).default(900),
  /** Failed logins per account from all addresses that have not logged in to it lately, per account window. */
  LOGIN_ACCOUNT_MAX_FAILURES: integer(1, 100_000).default(20),
  /** Once the account limit is used up, the longest an unknown address waits (a known address is not affected). */
  LOGIN_ACCOUNT_WINDOW_SECONDS: integer(1, 86_400).default(300),
  /** How long an address stays "known" to an account (exempt from the account limit) after a successful login. */
  LOGIN_KNOWN_ADDRESS_TTL_SECONDS: integer(60, 365 * 24 * 3600).default(30 * 24 * 3600),
  /** Cost points one viewer (or client address, when anonymous) may spend per window, shared by every replica; 0 turns the budget off. */
  GRAPHQL_COST_BUDGET: integer(0, 1_000_000_000).default(1_000_000),
  GRAPHQL_COST_BUDGET_WINDOW_SECONDS: integer(1, 86_400).default(60),
  /** Largest serialized HTTP response body, in bytes; a larger one is replaced by RESPONSE_TOO_LARGE. */
  GRAPHQL_MAX_RESPONSE_BYTES: integer(1024, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
  /** Stream entries the resumes (`after`) of one websocket may replay per window; beyond, RATE_LIMITED with retryAfterSeconds. */
  SUBSCRIPTION_REPLAY_BUDGET: integer(1, 100_000_000).default(20_000),
  SUBSCRIPTION_REPLAY_BUDGET_WINDOW_SECONDS: integer(1, 86_400).default(60),
  /** A second listener for /metrics and /readyz details; in production they are served only there. Unset: no second listener. */
  METRICS_PORT: integer(0, 65_535).optional(),
  /** A whole response larger than this (bytes, as sent) is never stored in the response cache. */
  CACHE_RESPONSE_MAX_BYTES: integer(1024, 64 * 1024 * 1024).default(256 * 1024),
  /** Most bytes of cached responses (keys, values, Redis bookkeeping) all replicas together keep in Redis at once. */
  CACHE_RESPONSE_BUDGET_BYTES: integer(0, 1024 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
  /** Most bytes of cached responses one client (a viewer, else a client address) can have stored at once. */
  CACHE_RESPONSE_CLIENT_BUDGET_BYTES: integer(0, 1024 * 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  /** Off: every read goes to Postgres (a baseline for benchmarks). */
  CACHE_ENABLED: booleanFromEnv.default(true),
  /** Whole responses of repeated read-only queries, kept while every type they read is unchanged (off with an L1). */
  CACHE_RESPONSES: booleanFromEnv.default(true),
  CACHE_RESPONSE_TTL_SECONDS: integer(1, 86_400).default(300),
  /**
   * Bytes of cached responses each replica also holds in memory (0: none). One is served from
   * there after a PING to Redis proves no invalidation is pending for it; not on a Redis Cluster.
   */
  CACHE_RESPONSE_L1_MAX_BYTES: integer(0, 16 * 1024 * 1024 * 1024).default(32 * 1024 * 1024),
  /** Base TTL of cached rows and pages; each write gets ±10% jitter. */
  CACHE_TTL_SECONDS: integer(1, 7 * 24 * 3600).default(300),
  /** Per-type base TTLs, e.g. "Product=600,Order=120". */
  CACHE_TYPE_TTL_SECONDS: z
    .string()
    .regex(/^(\s*[A-Za-z]+=\d+\s*)(,\s*[A-Za-z]+=\d+\s*)*$/, 'expected "Type=seconds,Type=seconds"')
    .default('')
    .transform((value): ReadonlyMap<string, number> => {
      const pairs = value.split(',').filter((pair) => pair.trim());
      return new Map(pairs.map((pair) => pair.split('=').map((part) => part.trim())).map(([type, seconds]) => [type!, Number(seconds)]));
    }),
  /** How long an id that does not exist is remembered as absent. */
  CACHE_NEGATIVE_TTL_SECONDS: integer(1, 3600).default(30),
  /** A cache command slower than this reads Postgres instead (fail-open). */
  CACHE_TIMEOUT_MS: integer(5, 10_000).default(250),
  CACHE_LEASE_TTL_MS: integer(50, 60_000).default(2000),
  /** How long a reader waits for another reader's lease before reading Postgres itself. */
  CACHE_LEASE_WAIT_MS: integer(0, 10_000).default(1000),
  /** Types kept in the in-process L1 as well, e.g. "Product,User"; empty: L1 off. */
  CACHE_L1_TYPES: z
    .string()
    .regex(/^\s*([A-Za-z]+\s*(,\s*[A-Za-z]+\s*)*)?$/, 'expected a comma-separated list of type names')
    .default('')
    .transform((value): ReadonlySet<string> => new Set(value.split(',').map((type) => type.trim()).filter(Boolean))),
  CACHE_L1_MAX_ENTRIES: integer(1, 10_000_000).default(10_000),
  /** Upper bound on the age of an L1 entry (invalidation messages usually drop it far sooner). */
  CACHE_L1_TTL_MS: integer(1, 3_600_000).default(5000),
  /**
   * Websockets and SSE streams one replica holds at once, together; a websocket beyond is closed
   * with 1013 (try again later), an SSE request beyond is answered 503.
   */
  WS_MAX_CONNECTIONS: integer(1, 1_000_000).default(10_000),
  /** Between comment heartbeats on each SSE stream, so idle proxies and load balancers keep it open. */
  SSE_HEARTBEAT_SECONDS: integer(1, 3600).default(15),
  /**
   * Least time between two executions of one live query (`query @live`): a burst of writes it
   * depends on gives one re-execution per window, the last write always reflected.
   */
  LIVE_QUERY_THROTTLE_MS: integer(0, 600_000).default(100),
  /** Operations (subscriptions) one websocket may run at once. */
  WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: integer(1, 10_000).default(100),
  /** How often each websocket's session is checked again (expired or missed revocation => 4403). */
  WS_SESSION_CHECK_SECONDS: integer(1, 86_400).default(60),
  /** How long a new websocket has to send connection_init before it is closed (4408). */
  WS_INIT_TIMEOUT_MS: integer(10, 600_000).default(3000),
  /** Events queued for one subscriber that is not reading before its socket is closed (4100). */
  SUBSCRIPTION_MAX_QUEUED_EVENTS: integer(1, 1_000_000).default(1000),
  /** Most stream entries a resuming subscription replays; further behind is CURSOR_EXPIRED. */
  SUBSCRIPTION_REPLAY_LIMIT: integer(1, 1_000_000).default(10_000),
  /** Approximate length each domain stream is trimmed to (XADD MAXLEN ~). */
  EVENT_STREAM_MAXLEN: integer(100, 100_000_000).default(100_000),
  /** Outbox rows published per relay round trip. */
  OUTBOX_BATCH_SIZE: integer(1, 10_000).default(100),
  /** How long a mutation waits for its event to be published before returning anyway. */
  OUTBOX_PUBLISH_WAIT_MS: integer(0, 60_000).default(2000),
  /**
   * On Sentinel or a Cluster (REDIS_SENTINELS, REDIS_CLUSTER_NODES), how far back the relay looks for published rows the Redis lost
   * (a replica promoted before it got them) to publish them again; 0 turns the re-check off.
   */
  OUTBOX_RECHECK_WINDOW_SECONDS: integer(0, 24 * 3600).default(600),
  /** How long published outbox rows are kept in Postgres. */
  OUTBOX_RETENTION_HOURS: integer(1, 24 * 365).default(24),
  /** How long an idempotency key returns its first result. */
  IDEMPOTENCY_TTL_HOURS: integer(1, 24 * 30).default(24),
  /** Largest request body accepted, in bytes. */
  BODY_LIMIT_BYTES: integer(1024, 50 * 1024 * 1024).default(1024 * 1024),
  /** How long SIGTERM waits for in-flight requests before closing anyway. */
  SHUTDOWN_GRACE_MS: integer(0, 120_000).default(10_000),
  /** The worker's consumer name within its groups; unique per process. Default: "<hostname>-<pid>". */
  WORKER_CONSUMER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and "_.:-" only')
    .optional(),
  /** The consumer groups (projections) a worker process runs. */
  WORKER_GROUPS: z
    .string()
    .regex(
      /^\s*(notifications|top-products)\s*(,\s*(notifications|top-products)\s*)*$/,
      'expected a comma-separated list of: notifications, top-products',
    )
    .default('notifications,top-products')
    .transform((value) => [...new Set(value.split(',').map((name) => name.trim() as 'notifications' | 'top-products'))] as const),
  /** Stream entries a worker reads (and claims) per round trip. */
  WORKER_BATCH_SIZE: integer(1, 10_000).default(100),
  /** How long one XREADGROUP waits for new entries. */
  WORKER_BLOCK_MS: integer(1, 60_000).default(5000),
  /** An entry unacknowledged this long (its consumer crashed or is stuck) is claimed by another consumer. */
  WORKER_CLAIM_IDLE_MS: integer(10, 24 * 3_600_000).default(30_000),
  /** An entry delivered this many times without success goes to the stream's dead-letter stream. */
  WORKER_MAX_DELIVERIES: integer(1, 1000).default(5),
});

export interface RedisHostPort {
  host: string;
  port: number;
}

/** Where a Redis role lives: one server (a URL), or the master a set of sentinels names. */
export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'sentinel'; sentinels: readonly RedisHostPort[]; name: string }
  | { kind: 'cluster'; nodes: readonly RedisHostPort[] };

export type ConfigInput = z.input<typeof configSchema>;
export type Config = Readonly<
  Omit<z.output<typeof configSchema>, 'GRAPHQL_INTROSPECTION' | 'GRAPHQL_PLAYGROUND' | 'SEED_DEMO_DATA'> & {
    GRAPHQL_INTROSPECTION: boolean;
    GRAPHQL_PLAYGROUND: boolean;
    SEED_DEMO_DATA: boolean;
    isProduction: boolean;
    /** The durable Redis (REDIS_URL, or REDIS_SENTINELS + REDIS_SENTINEL_NAME). */
    redisTarget: RedisTarget;
    /** The cache's own Redis (REDIS_CACHE_URL or REDIS_CACHE_SENTINELS...), or null: the durable one. */
    redisCacheTarget: RedisTarget | null;
  }
>;

/** The environment variables the gateway understands (docker-compose.yml is checked against it). */
export const configKeys = Object.keys(configSchema.shape) as ReadonlyArray<keyof ConfigInput>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The URL without its password, fit for logs and error messages. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/** A Redis target fit for logs and error messages: the URL without its password, or the sentinels and master name. */
export function describeRedisTarget(target: RedisTarget): string {
  switch (target.kind) {
    case 'standalone':
      return redactUrl(target.url);
    case 'sentinel':
      return `master "${target.name}" of sentinels ${describeHostPorts(target.sentinels)}`;
    case 'cluster':
      return `cluster of ${describeHostPorts(target.nodes)}`;
    default:
      return assertNever(target);
  }
}

const describeHostPorts = (list: readonly RedisHostPort[]) => list.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',');

function assertNever(value: never): never {
  throw new Error(`unhandled Redis target ${JSON.stringify(value)}`);
}

/**
 * The Redis targets of the durable and the cache roles. A standalone URL and sentinels for the same
 * role are an error, not a precedence rule: a deployment that sets both meant one of them, and
 * guessing which would connect it to the wrong Redis.
 */
function redisTargets(data: z.output<typeof configSchema>, given: Record<string, string>): Pick<Config, 'redisTarget' | 'redisCacheTarget'> {
  const problems: string[] = [];
  const durableForms = [given.REDIS_URL !== undefined && 'REDIS_URL', data.REDIS_SENTINELS && 'REDIS_SENTINELS', data.REDIS_CLUSTER_NODES && 'REDIS_CLUSTER_NODES'].filter(Boolean);
  if (durableForms.length > 1) {
    problems.push(`${durableForms.join(' and ')} are ${durableForms.length === 2 ? 'both' : 'all'} set: set REDIS_URL for a standalone Redis, REDIS_SENTINELS (and REDIS_SENTINEL_NAME) for Sentinel, or REDIS_CLUSTER_NODES for a Cluster, only one`);
  }
  const isCacheOnSentinel = data.REDIS_CACHE_SENTINELS !== undefined || data.REDIS_CACHE_SENTINEL_NAME !== undefined;
  const cacheForms = [data.REDIS_CACHE_URL !== undefined && 'REDIS_CACHE_URL', isCacheOnSentinel && 'REDIS_CACHE_SENTINELS/REDIS_CACHE_SENTINEL_NAME', data.REDIS_CACHE_CLUSTER_NODES && 'REDIS_CACHE_CLUSTER_NODES'].filter(Boolean);
  if (cacheForms.length > 1) {
    problems.push(`${cacheForms.join(' and ')} are ${cacheForms.length === 2 ? 'both' : 'all'} set: set one form for the cache, not several`);
  }
  const cacheSentinels = data.REDIS_CACHE_SENTINELS ?? data.REDIS_SENTINELS;
  if (isCacheOnSentinel && !cacheSentinels) {
    problems.push('REDIS_CACHE_SENTINEL_NAME is set but no sentinels are: set REDIS_CACHE_SENTINELS (or REDIS_SENTINELS)');
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  let redisTarget: RedisTarget = { kind: 'standalone', url: data.REDIS_URL };
  if (data.REDIS_SENTINELS) redisTarget = { kind: 'sentinel', sentinels: data.REDIS_SENTINELS, name: data.REDIS_SENTINEL_NAME };
  if (data.REDIS_CLUSTER_NODES) redisTarget = { kind: 'cluster', nodes: data.REDIS_CLUSTER_NODES };
  let redisCacheTarget: RedisTarget | null = null;
  if (data.REDIS_CACHE_URL !== undefined) redisCacheTarget = { kind: 'standalone', url: data.REDIS_CACHE_URL };
  if (isCacheOnSentinel) {
    redisCacheTarget = { kind: 'sentinel', sentinels: cacheSentinels!, name: data.REDIS_CACHE_SENTINEL_NAME ?? data.REDIS_SENTINEL_NAME };
  }
  if (data.REDIS_CACHE_CLUSTER_NODES) redisCacheTarget = { kind: 'cluster', nodes: data.REDIS_CACHE_CLUSTER_NODES };
  return { redisTarget, redisCacheTarget };
}

/** Reads the settings from `env`; throws a ConfigError naming every bad variable, on one line. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known: Record<string, string> = {};
  for (const key of configKeys) {
    const value = env[key];
    if (value !== undefined && value !== '') known[key] = value;
  }
  const parsed = configSchema.safeParse(known);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'config');
      const given = known[name];
      return `${name}=${JSON.stringify(redactUrl(given ?? ''))} is invalid: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  if (known.GRAPHQL_TRUSTED_DOCUMENTS_MODE !== undefined && !parsed.data.GRAPHQL_TRUSTED_DOCUMENTS) {
    // A mode without a list would let every document run while the operator believes otherwise.
    throw new ConfigError('Invalid configuration: GRAPHQL_TRUSTED_DOCUMENTS_MODE is set but GRAPHQL_TRUSTED_DOCUMENTS is not: set the path of the persisted-documents.json to check against');
  }
  const isProduction = parsed.data.NODE_ENV === 'production';
  return Object.freeze({
    ...parsed.data,
    ...redisTargets(parsed.data, known),
    GRAPHQL_INTROSPECTION: parsed.data.GRAPHQL_INTROSPECTION ?? !isProduction,
    GRAPHQL_PLAYGROUND: parsed.data.GRAPHQL_PLAYGROUND ?? !isProduction,
    SEED_DEMO_DATA: parsed.data.SEED_DEMO_DATA ?? parsed.data.DATABASE_URL === undefined,
    isProduction,
  });
}
