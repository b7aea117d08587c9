// A failover announced while a connection's reconnect is still asking the sentinels where the
// master is. ioredis' failover detector (still subscribed from the connection's previous socket)
// cancels that attempt, and ioredis then ends the connection for good: every command after it
// fails with "Connection is closed.". connectRedis connects such a connection again
// (src/redis/reopen-ended.ts). The interleaving is driven, not waited for: the sentinel the
// reconnect asks first is paused (SIGSTOP), the connection's socket is killed, and a failover is
// forced through another sentinel while the reconnect waits for the paused one's answer.
//
// The file's own Sentinel set-up whatever TEST_REDIS_TOPOLOGY says: it fails the master over.
import Redis from 'ioredis';
import { closeRedisConnections, connectRedis } from '../../src/redis/connection';
import { startSentinelSetup, type SentinelSetup } from '../../src/testing/redis-sentinel';

const HOST = '127.0.0.1';
/** Bounds every wait of the test; a reconnect that waits on the paused sentinel gets as long. */
const BOUND_MS = 20_000;

let setup: SentinelSetup;
beforeAll(async () => {
  setup = await startSentinelSetup();
}, 60_000);
afterAll(() => setup?.stop());

/**
 * The next `event` of `emitter`, bounded. Not events.once: it rejects on the 'error' events a
 * reconnecting connection emits, which are expected here.
 */
function next(emitter: NodeJS.EventEmitter, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${BOUND_MS} ms`)), BOUND_MS);
    emitter.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A one-off command on a server or sentinel. */
async function ask<T>(port: number, command: string, ...args: string[]): Promise<T> {
  const connection = new Redis(port, HOST, { lazyConnect: true });
  try {
    await connection.connect();
    return (await connection.call(command, ...args)) as T;
  } finally {
    connection.disconnect();
  }
}

test('a failover announced during a reconnect: the connection comes back on the promoted master', async () => {
  const [first, second] = setup.sentinelServers as [SentinelSetup['sentinelServers'][0], SentinelSetup['sentinelServers'][0]];
  const redis = await connectRedis(
    { target: { kind: 'sentinel', sentinels: setup.sentinels, name: setup.name }, connectTimeoutMs: BOUND_MS, connectionName: 'streamgate:reopen-test' },
    { maxRetriesPerRequest: 1 },
  );
  const errors: string[] = [];
  redis.on('error', (error: Error) => errors.push(error.message));
  const listener = new Redis(second.port, HOST);
  try {
    const oldMaster = await setup.master();
    const clientId = String(await redis.client('ID'));
    await listener.subscribe('+switch-master');
    const announced = next(listener, 'message');

    first.pause();
    try {
      const reconnecting = next(redis, 'connecting');
      await ask(oldMaster.port, 'CLIENT', 'KILL', 'ID', clientId);
      // The reconnect now waits on the paused sentinel (the one it resolved the master from).
      await reconnecting;
      expect(await ask(second.port, 'SENTINEL', 'FAILOVER', setup.name)).toBe('OK');
      await announced;
    } finally {
      first.resume();
    }
    const promoted = await ask<[string, string]>(second.port, 'SENTINEL', 'get-master-addr-by-name', setup.name);
    expect(Number(promoted[1])).not.toBe(oldMaster.port);

    // Without the reopening, the cancelled attempt ended the connection: status 'end', never ready.
    if (redis.status !== 'ready') await next(redis, 'ready');
    expect(await redis.set('written-after-the-failover', 'yes')).toBe('OK');
    expect(await ask(Number(promoted[1]), 'GET', 'written-after-the-failover')).toBe('yes');
    // The interleaving did happen: the attempt the announcement cancelled was reported.
    expect(errors).toContain('Connection is closed.');
  } finally {
    listener.disconnect();
    await closeRedisConnections([redis]);
  }
});
