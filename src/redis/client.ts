// What the gateway talks to Redis through: one server's connection (standalone, or the master
// Sentinel names) or a Redis Cluster's. Both answer the same commands and scripts (ioredis's
// Commander); what differs is said here once: pub/sub on a Cluster is sharded (SPUBLISH /
// SSUBSCRIBE: a channel lives on the master of its slot, so fan-out spreads over the masters
// instead of every message crossing every node), and subscribers see it through
// sharded-subscriber.ts.
import type { EventEmitter } from 'node:events';
import type { Cluster, default as Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

export const isCluster = (redis: RedisClient): redis is Cluster => redis.isCluster;

/** The publish command of a topology, for scripts that publish (ARGV): SPUBLISH on a Cluster. */
export const publishCommandOf = (redis: RedisClient): 'PUBLISH' | 'SPUBLISH' => (isCluster(redis) ? 'SPUBLISH' : 'PUBLISH');

/** Publishes `message` on `channel` the way the topology's subscribers listen (sharded on a Cluster). */
export async function publishTo(redis: RedisClient, channel: string, message: string): Promise<void> {
  await (isCluster(redis) ? redis.spublish(channel, message) : redis.publish(channel, message));
}

/**
 * What subscribing code uses of its subscriber connection: a connection in subscriber mode, or a
 * Cluster's sharded subscribers dressed as one (ShardedSubscriber). 'message' (channel, message),
 * 'close' when messages may have been lost from then on, 'ready' once subscribed again.
 */
export interface RedisSubscriber extends EventEmitter {
  readonly status: string;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  /** Answers once every subscription sent before it is in force. */
  ping(): Promise<unknown>;
}

/**
 * The keys matching `pattern`, a SCAN batch at a time, with the server holding them: SCAN walks
 * one server, so on a Cluster every master is walked. Keys of one batch may be on different slots:
 * act on them one by one (a multi-key command would fail with CROSSSLOT on a Cluster).
 */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 500): AsyncGenerator<{ server: Redis; keys: string[] }> {
  for (const server of isCluster(redis) ? redis.nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length > 0) yield { server, keys };
    } while (cursor !== '0');
  }
}

/**
 * Deletes every key matching `pattern`, a SCAN batch at a time, one UNLINK per key (a batch's keys
 * may span slots of a Cluster). `shouldStop` is asked after each batch.
 */
export async function unlinkMatching(redis: RedisClient, pattern: string, options: { count?: number; shouldStop?: () => boolean } = {}): Promise<void> {
  for await (const { server, keys } of scanKeys(redis, pattern, options.count)) {
    await Promise.all(keys.map((key) => server.unlink(key)));
    if (options.shouldStop?.()) return;
  }
}

/**
 * The server connection that commands on `key` go to: the client itself, or on a Cluster the
 * connection to the master of the key's slot now (for commands about a connection, such as
 * CLIENT ID and CLIENT UNBLOCK, which must reach the server that connection is on).
 */
export async function serverFor(redis: RedisClient, key: string): Promise<Redis> {
  if (!isCluster(redis)) return redis;
  const slot = Number(await redis.cluster('KEYSLOT', key));
  const owner = redis.slots[slot]?.[0];
  const server = redis.nodes('master').find(({ options }) => `${options.host}:${options.port}` === owner);
  if (!server) throw new Error(`no connection to the master of ${key} (slot ${slot}, ${owner ?? 'no owner known'})`);
  return server;
}
