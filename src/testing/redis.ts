// The Redis a test gateway runs on. By default a `redis-server` of the kit's own, started once per
// process on a free loopback port (a team needs no Redis running, and parallel Jest workers never
// share one); with `url` (or TEST_REDIS_URL, as the project's own suite reads it), an existing
// Redis. Either way each gateway gets a key prefix of its own, whose keys close() deletes, so a
// shared Redis keeps serving whoever else uses it.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { scanKeys, type RedisClient } from '../redis/client';
import { processShared } from './process-shared';
import { startRedisServer } from './redis-server';

export interface KitRedis {
  url: string;
  /** A prefix not used before in this process (and, with a random part, not by another). */
  newPrefix(): string;
  /** Deletes the keys of the prefixes handed out (the kit's own server lives on for the process's next gateway). */
  release(prefixes: readonly string[]): Promise<void>;
  /** Deletes the keys matching any of `patterns`, on `connection`. */
  deleteMatching(connection: Redis | RedisClient, patterns: readonly string[]): Promise<void>;
}

/** The kit's own server: one per process, for all its test files (killed when the process exits). */
const ownServer = () => processShared('kitRedisServer', () => startRedisServer());
const prefixCounter = processShared('prefixCounter', () => ({ count: 0 }));

/** The Redis for test gateways: `url` if given, else TEST_REDIS_URL, else the kit's own server. */
export async function kitRedis(url = process.env.TEST_REDIS_URL): Promise<KitRedis> {
  const runId = randomBytes(3).toString('hex');
  const newPrefix = () => `sgkit${process.pid}${runId}n${(prefixCounter.count += 1)}`;
  // The kit's own server lives as long as the process (the next gateway of the file reuses it):
  // only keys go; the process ends with the Jest worker (the exit hook below).
  const serverUrl = url ?? (await ownServer()).url;
  return {
    url: serverUrl,
    newPrefix,
    release: async (prefixes) => {
      if (prefixes.length === 0) return;
      const connection = new Redis(serverUrl, { maxRetriesPerRequest: 1 });
      try {
        await deleteMatching(connection, prefixes.map((prefix) => `${prefix}:*`));
      } finally {
        connection.disconnect();
      }
    },
    deleteMatching,
  };
}

async function deleteMatching(connection: Redis | RedisClient, patterns: readonly string[]): Promise<void> {
  for (const pattern of patterns) {
    for await (const { server, keys } of scanKeys(connection as RedisClient, pattern, 1000)) await server.unlink(...keys);
  }
}
