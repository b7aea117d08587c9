// The Redis a test file runs against, chosen by the environment so that one variable runs the
// whole suite against another Redis set-up:
//
//   TEST_REDIS_TOPOLOGY=standalone (the default): a redis-server of the test file's own
//     (redis-server.ts), with the app's default key prefix, as the suite has always run.
//   TEST_REDIS_TOPOLOGY=sentinel: a Sentinel set-up of the test file's own (redis-sentinel.ts: a
//     master, a replica, three sentinels); the app reaches it with REDIS_SENTINELS.
//   TEST_REDIS_TOPOLOGY=cluster: a 3-master Redis Cluster of the test file's own
//     (redis-cluster.ts); the app reaches it with REDIS_CLUSTER_NODES.
//   TEST_REDIS_URL=redis://host:port[/db]: an existing Redis shared by every test file; each
//     file gets a key prefix of its own (REDIS_PREFIX) and its keys are deleted when it stops.
//
// Tests spread `env` into whatever they start, so a topology needs no change in them. Tests that kill or restart
// their Redis, or start it with special settings, use startOwnRedisServer() whatever the topology.
import { randomBytes } from 'node:crypto';
import Redis, { Cluster, type RedisOptions } from 'ioredis';
import { unlinkMatching, type RedisClient, type RedisSubscriber } from '../redis/client';
import { ShardedSubscriber } from '../redis/sharded-subscriber';
import type { RedisTarget } from '../config';
import { connectRedis } from '../redis/connection';
import { createRedisKeys, type RedisKeys } from '../redis/keys';
import { startRedisServer, type RedisServerHandle, type RedisServerOptions } from './redis-server';
import { startSentinelSetup, type SentinelSetup, type SentinelSetupOptions } from './redis-sentinel';
import { startClusterSetup, type ClusterSetup, type ClusterSetupOptions } from './redis-cluster';

export const REDIS_TOPOLOGIES = ['standalone', 'sentinel', 'cluster'] as const;
export type RedisTopology = (typeof REDIS_TOPOLOGIES)[number] | 'external';

/** What a gateway or worker needs to reach this Redis (config keys, see src/config.ts). */
export type RedisEnv = ({ REDIS_URL: string } | { REDIS_SENTINELS: string; REDIS_SENTINEL_NAME: string } | { REDIS_CLUSTER_NODES: string }) & {
  REDIS_PREFIX: string;
};

export interface TestRedis {
  topology: RedisTopology;
  /**
   * REDIS_URL: where the app, the workers and the test's own connections go. On Sentinel: the
   * master's URL when the set-up started (connect() and `target` follow a failover, this does not).
   */
  url: string;
  /** What src/redis/connection.ts connects to: the URL, or the Sentinel set-up's master. */
  target: RedisTarget;
  /** The Sentinel set-up (to kill its master and wait for the promotion); null on other topologies. */
  sentinel: SentinelSetup | null;
  /** The Cluster set-up (its servers, to kill a master); null on other topologies. */
  cluster: ClusterSetup | null;
  /** REDIS_PREFIX of every key and channel: 'sg' (the app's default) on a Redis of the test's own. */
  prefix: string;
  /** Spread into a gateway's or worker's environment (or loadConfig's input). */
  env: RedisEnv;
  /** Key and channel names under `prefix`; derived (database-bound) keys need boundKeys(). */
  keys: RedisKeys;
  /** The redis-server this test file started (to kill or restart); null for an external Redis. */
  server: RedisServerHandle | null;
  /** A connection of the test's own, as ioredis opens it (a Cluster client on a Cluster); the caller disconnects it. */
  connect(options?: RedisOptions): RedisClient;
  /** A subscriber of the test's own that hears what the gateway publishes (sharded pub/sub on a Cluster); the caller disconnects it. */
  subscriber(): RedisSubscriber & { disconnect(): void };
  /** The keys of a running gateway or worker: derived keys carry the database identity it bound Redis to. */
  boundKeys(connection: RedisClient): Promise<RedisKeys>;
  /** Stops the test file's redis-server, or deletes its keys from an external Redis. */
  stop(): Promise<void>;
}

/** src/config.ts's default REDIS_PREFIX: on a Redis of its own, a test sees the keys a deployment would. */
const APP_DEFAULT_PREFIX = 'sg';

/** The topology the suite was asked for; throws on a name this module does not know. */
export function requestedTopology(env: NodeJS.ProcessEnv = process.env): RedisTopology {
  const name = env.TEST_REDIS_TOPOLOGY || 'standalone';
  if (!(REDIS_TOPOLOGIES as readonly string[]).includes(name)) {
    throw new Error(`TEST_REDIS_TOPOLOGY=${name} is not a topology the tests know (${REDIS_TOPOLOGIES.join(', ')}); see test/support/README.md`);
  }
  if (env.TEST_REDIS_URL) {
    if (!/^rediss?:\/\//.test(env.TEST_REDIS_URL)) throw new Error(`TEST_REDIS_URL must start with redis:// or rediss://, got ${env.TEST_REDIS_URL}`);
    return 'external';
  }
  return name as RedisTopology;
}

/** The Redis for one test file, as TEST_REDIS_TOPOLOGY / TEST_REDIS_URL say. */
export async function startTestRedis(): Promise<TestRedis> {
  const topology = requestedTopology();
  switch (topology) {
    case 'standalone':
      return startOwnRedisServer();
    case 'sentinel':
      return startOwnSentinelSetup();
    case 'cluster':
      return startOwnClusterSetup();
    case 'external':
      return useExternalRedis(process.env.TEST_REDIS_URL!);
    default:
      return assertNever(topology);
  }
}

/**
 * A redis-server of the test file's own, whatever the topology: for tests that kill, restart or
 * configure it (`args`, e.g. a maxmemory); these fault tests cannot run on a shared Redis.
 */
export async function startOwnRedisServer(options: RedisServerOptions = {}): Promise<TestRedis & { server: RedisServerHandle }> {
  requestedTopology();
  const server = await startRedisServer(options);
  return { ...describeRedis('standalone', server.url, APP_DEFAULT_PREFIX, () => server.stop()), server };
}

/**
 * A Sentinel set-up of the test file's own, whatever the topology: for failover tests, which kill
 * its master (`sentinel.killMaster()`).
 */
export async function startOwnSentinelSetup(options: SentinelSetupOptions = {}): Promise<TestRedis & { sentinel: SentinelSetup }> {
  requestedTopology();
  const sentinel = await startSentinelSetup(options);
  const master = await sentinel.master();
  const target: RedisTarget = { kind: 'sentinel', sentinels: sentinel.sentinels, name: sentinel.name };
  const described = describeRedis('sentinel', `redis://${master.host}:${master.port}`, APP_DEFAULT_PREFIX, () => sentinel.stop(), target);
  return {
    ...described,
    env: { REDIS_SENTINELS: sentinel.sentinelList, REDIS_SENTINEL_NAME: sentinel.name, REDIS_PREFIX: APP_DEFAULT_PREFIX },
    sentinel,
  };
}

/**
 * A 3-master Redis Cluster of the test file's own, whatever the topology: for tests of the
 * Cluster itself (its slot layout, the failover of a master).
 */
export async function startOwnClusterSetup(options: ClusterSetupOptions = {}): Promise<TestRedis & { cluster: ClusterSetup }> {
  requestedTopology();
  const cluster = await startClusterSetup(options);
  const target: RedisTarget = { kind: 'cluster', nodes: cluster.nodes };
  const first = cluster.nodes[0]!;
  const described = describeRedis('cluster', `redis://${first.host}:${first.port}`, APP_DEFAULT_PREFIX, () => cluster.stop(), target);
  return { ...described, env: { REDIS_CLUSTER_NODES: cluster.nodeList, REDIS_PREFIX: APP_DEFAULT_PREFIX }, cluster };
}

/** The redis-server of a Redis started by startOwnRedisServer(); throws for one the test does not own. */
export function serverOf(redis: TestRedis): RedisServerHandle {
  if (!redis.server) throw new Error(`this test kills or restarts Redis, so it needs startOwnRedisServer(), not a ${redis.topology} Redis`);
  return redis.server;
}

/** An existing Redis at `url`, as far as reaching it goes (env, connect); the caller owns its keys. */
export function redisAt(url: string): TestRedis {
  return describeRedis('external', url, APP_DEFAULT_PREFIX, async () => undefined);
}

async function useExternalRedis(url: string): Promise<TestRedis> {
  const prefix = `sgtest${process.pid}${randomBytes(3).toString('hex')}`;
  // Fail here, naming the URL, rather than in every gateway the file starts.
  const connection = await connectRedis({ target: url }, { maxRetriesPerRequest: 1 });
  connection.disconnect();
  return describeRedis('external', url, prefix, () => deleteKeys(url, prefix));
}

function describeRedis(
  topology: RedisTopology,
  url: string,
  prefix: string,
  stop: () => Promise<void>,
  target: RedisTarget = { kind: 'standalone', url },
): TestRedis {
  let stopping: Promise<void> | undefined;
  return {
    topology,
    url,
    target,
    sentinel: null,
    cluster: null,
    prefix,
    env: { REDIS_URL: url, REDIS_PREFIX: prefix },
    keys: createRedisKeys(prefix),
    server: null,
    connect: (options) => {
      if (target.kind === 'sentinel') return new Redis({ ...options, sentinels: target.sentinels.map(({ host, port }) => ({ host, port })), name: target.name, failoverDetector: true });
      if (target.kind === 'cluster') return new Cluster(target.nodes.map(({ host, port }) => ({ host, port })), { redisOptions: options, lazyConnect: options?.lazyConnect });
      return new Redis(url, options ?? {});
    },
    subscriber() {
      if (target.kind !== 'cluster') return this.connect() as Redis;
      return new ShardedSubscriber(new Cluster(target.nodes.map(({ host, port }) => ({ host, port })), { shardedSubscribers: true }));
    },
    async boundKeys(connection) {
      const identity = await connection.get(createRedisKeys(prefix).databaseIdentity());
      if (!identity) throw new Error('Redis is not bound to a database yet: start a gateway or worker first');
      return createRedisKeys(prefix, () => identity);
    },
    stop: () => (stopping ??= stop()),
  };
}

/**
 * Every key whose name starts with the test file's prefix (tests may derive prefixes of their own
 * from it), so a shared Redis does not fill up run after run.
 */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const connection = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    await unlinkMatching(connection, `${prefix}*`);
  } finally {
    connection.disconnect();
  }
}

/** Connections a test file opens to its Redis (like the worker's: one attempt per command) and closes in afterAll. */
export function redisConnections(redis: () => Pick<TestRedis, 'target'>): { open(): Promise<RedisClient>; closeAll(): void } {
  const opened: RedisClient[] = [];
  return {
    async open() {
      const connection = await connectRedis({ target: redis().target }, { maxRetriesPerRequest: 1 });
      opened.push(connection);
      return connection;
    },
    closeAll() {
      for (const connection of opened.splice(0)) connection.disconnect();
    },
  };
}

function assertNever(value: never): never {
  throw new Error(`unhandled Redis topology ${String(value)}`);
}
