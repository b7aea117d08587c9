// The Redis a test gateway runs on, picked by the same variables as the project's own suite
// (redis-topology.ts), so one variable runs a team's tests against another Redis set-up:
//
//   by default: a redis-server of the kit's own, started once per process on a free loopback port
//     (a team needs no Redis running, and parallel Jest workers never share one);
//   TEST_REDIS_TOPOLOGY=sentinel / cluster: a Sentinel set-up (master, replica, three sentinels) or
//     a 3-master Redis Cluster of the kit's own, once per process, reached as production reaches
//     them (REDIS_SENTINELS, REDIS_CLUSTER_NODES);
//   `url` (or TEST_REDIS_URL): an existing Redis.
//
// Either way each gateway gets a key prefix of its own, whose keys close() deletes, so a shared
// Redis keeps serving whoever else uses it, and the process's next gateway reuses the set-up.
import { randomBytes } from 'node:crypto';
import { unlinkMatching } from '../redis/client';
import { processShared } from './process-shared';
import { redisAt, requestedTopology, startOwnClusterSetup, startOwnRedisServer, startOwnSentinelSetup, type RedisEnv, type RedisTopology, type TestRedis } from './redis-topology';

export interface KitRedis {
  topology: RedisTopology;
  /** What the app needs to reach this Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES), without the prefix. */
  env: Omit<RedisEnv, 'REDIS_PREFIX'>;
  /** A prefix not used before in this process (and, with a random part, not by another). */
  newPrefix(): string;
  /** Deletes the keys of the prefixes handed out (the set-up lives on for the process's next gateway). */
  release(prefixes: readonly string[]): Promise<void>;
}

const prefixCounter = processShared('prefixCounter', () => ({ count: 0 }));

const ownSetups = processShared('kitRedisSetups', () => new Map<RedisTopology, Promise<TestRedis>>());

/** The kit's own set-up of a topology: one per process, for all its test files (killed when the process exits). */
function ownSetup(topology: 'standalone' | 'sentinel' | 'cluster'): Promise<TestRedis> {
  let setup = ownSetups.get(topology);
  if (!setup) {
    setup = { standalone: startOwnRedisServer, sentinel: startOwnSentinelSetup, cluster: startOwnClusterSetup }[topology]();
    // A failed start (no redis-server binary) is not kept: the next test file tries again and says why.
    setup.catch(() => ownSetups.delete(topology));
    ownSetups.set(topology, setup);
  }
  return setup;
}

/** The Redis for test gateways: `url` if given, else TEST_REDIS_URL, else a set-up of the kit's own of TEST_REDIS_TOPOLOGY. */
export async function kitRedis(url = process.env.TEST_REDIS_URL): Promise<KitRedis> {
  const topology: RedisTopology = url ? 'external' : requestedTopology();
  const redis = url ? redisAt(url) : await ownSetup(topology as Exclude<RedisTopology, 'external'>);
  const runId = randomBytes(3).toString('hex');
  const { REDIS_PREFIX: _appDefault, ...env } = redis.env;
  return {
    topology,
    env,
    newPrefix: () => `sgkit${process.pid}${runId}n${(prefixCounter.count += 1)}`,
    release: async (prefixes) => {
      if (prefixes.length === 0) return;
      const connection = redis.connect({ maxRetriesPerRequest: 1 });
      try {
        for (const prefix of prefixes) await unlinkMatching(connection, `${prefix}:*`, { count: 1000 });
      } finally {
        connection.disconnect();
      }
    },
  };
}
