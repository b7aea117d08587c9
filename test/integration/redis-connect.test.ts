// The start-up check against a Redis that is briefly busy: a role's command timeout (the cache's
// CACHE_TIMEOUT_MS) must not fail the start over one slow PING, while a Redis that stays busy past
// the connect timeout still does. DEBUG SLEEP blocks the server as a fork or a loaded machine would.
import Redis, { Cluster } from 'ioredis';
import { connectRedis, RedisUnreachableError } from '../../src/redis/connection';
import { startClusterSetup } from '../../src/testing/redis-cluster';
import { startRedisServer, type RedisServerHandle } from '../../src/testing/redis-server';

let server: RedisServerHandle;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer({ args: ['--enable-debug-command', 'local'] });
  admin = new Redis(server.url);
  // Up before a test blocks the server through it, or its DEBUG SLEEP would wait in its queue.
  await admin.ping();
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});

/** Blocks the server for `seconds`; resolves when it answers again. */
const blockServer = (seconds: number) => admin.call('DEBUG', 'SLEEP', String(seconds));

test('a Redis still busy after the connect timeout: RedisUnreachableError', async () => {
  const blocked = blockServer(1.5);
  await expect(connectRedis({ target: server.url, connectTimeoutMs: 300 }, { commandTimeout: 100 })).rejects.toBeInstanceOf(RedisUnreachableError);
  await blocked;
});

test('a start slower than the command timeout but within the connect timeout: connected, then commands time out', async () => {
  const blocked = blockServer(0.6);
  const redis = await connectRedis({ target: server.url, connectTimeoutMs: 5000 }, { commandTimeout: 100 });
  try {
    await blocked;
    expect(await redis.ping()).toBe('PONG');
    // The role's own timeout holds once the connection is up (the cache fails open on it).
    const blockedAgain = blockServer(0.5);
    await expect(redis.ping()).rejects.toThrow('Command timed out');
    await blockedAgain;
  } finally {
    redis.disconnect();
  }
});

test('on a Cluster: a slow start connects, then every node\'s connection has the role\'s command timeout', async () => {
  const cluster = await startClusterSetup();
  // CLIENT PAUSE holds every other client's commands on a node, as DEBUG SLEEP would.
  const pausers = cluster.nodes.map(({ host, port }) => new Redis(port, host));
  try {
    await Promise.all(pausers.map((pauser) => pauser.client('PAUSE', '600', 'ALL')));
    const client = (await connectRedis({ target: { kind: 'cluster', nodes: cluster.nodes }, connectTimeoutMs: 5000 }, { commandTimeout: 100 })) as Cluster;
    try {
      await Promise.all(pausers.map((pauser) => pauser.client('UNPAUSE')));
      expect(await client.set('k', 'v')).toBe('OK');
      const master = await cluster.masterOf('k');
      await pausers[cluster.nodes.findIndex(({ port }) => port === master.port)]!.client('PAUSE', '500', 'ALL');
      await expect(client.get('k')).rejects.toThrow('Command timed out');
    } finally {
      client.disconnect();
    }
  } finally {
    for (const pauser of pausers) pauser.disconnect();
    await cluster.stop();
  }
});
