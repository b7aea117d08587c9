// A failover announced while a connection's reconnect is still asking the sentinels where the
// master is. ioredis' failover detector (still subscribed from the connection's previous socket)
// cancels that attempt, and ioredis then ends the connection for good: every command after it
// fails with "Connection is closed.". connectRedis connects such a connection again
// (src/redis/reopen-ended.ts). The interleaving is driven, not waited for: the sentinel the
// reconnect asks first is paused (SIGSTOP), the connection's socket is killed, and a failover is
// forced through another sentinel while the reconnect waits for the paused one's answer.
//
// The file's own Sentinel set-up whatever TEST_REDIS_TOPOLOGY says: it fails the master over.
import { setTimeout as delay } from 'node:timers/promises';
import Redis from 'ioredis';
import { closeRedisConnections, connectRedis } from '../../src/redis/connection';
import { startSentinelSetup, type SentinelSetup } from '../../src/testing/redis-sentinel';
import { waitUntil } from '../../src/testing/wait';

const HOST = '127.0.0.1';
/** Bounds every wait of the test; a reconnect that waits on the paused sentinel gets as long. */
const BOUND_MS = 20_000;

let setup: SentinelSetup;
beforeAll(async () => {
  setup = await startSentinelSetup();
}, 60_000);
/**
 * ioredis's failover detector disconnects its sentinel connections a second time when a reconnect
 * replaces it, and each such disconnect leaves a 2 s timer (its fixed `disconnectTimeout`, waiting
 * for a 'close' that came already): the Jest worker would be force-exited while they run out. Not
 * a wait for anything the test checks.
 */
const IOREDIS_DISCONNECT_TIMERS_MS = 2_100;

afterAll(async () => {
  await setup?.stop();
  await delay(IOREDIS_DISCONNECT_TIMERS_MS);
});

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

/** Until the server has a subscriber on `channel` (PUBSUB NUMSUB; the resubscription follows 'ready'). */
async function waitUntilSubscribed(port: number, channel: string): Promise<void> {
  await waitUntil(async () => Number((await ask<[string, number]>(port, 'PUBSUB', 'NUMSUB', channel))[1]) > 0, `a subscriber on ${channel}`, BOUND_MS);
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

test('a failover announced during reconnects: commands and subscriptions come back on the promoted master', async () => {
  const [first, second] = setup.sentinelServers as [SentinelSetup['sentinelServers'][0], SentinelSetup['sentinelServers'][0]];
  const target = { kind: 'sentinel', sentinels: setup.sentinels, name: setup.name } as const;
  const command = await connectRedis({ target, connectTimeoutMs: BOUND_MS, connectionName: 'streamgate:reopen-command' }, { maxRetriesPerRequest: 1 });
  const subscriber = await connectRedis({ target, connectTimeoutMs: BOUND_MS, connectionName: 'streamgate:reopen-subscriber' });
  const connections = [command, subscriber];
  const errors: string[] = [];
  for (const connection of connections) connection.on('error', (error: Error) => errors.push(error.message));
  const listener = new Redis(second.port, HOST);
  try {
    const oldMaster = await setup.master();
    // Before subscribing: a subscribed connection runs nothing else.
    const clientIds = await Promise.all(connections.map(async (connection) => String(await connection.client('ID'))));
    await subscriber.subscribe('after-the-failover');
    await listener.subscribe('+switch-master');
    const announced = next(listener, 'message');

    first.pause();
    try {
      const reconnecting = Promise.all(connections.map((connection) => next(connection, 'connecting')));
      for (const id of clientIds) await ask(oldMaster.port, 'CLIENT', 'KILL', 'ID', id);
      // Both reconnects now wait on the paused sentinel (the one they resolved the master from).
      await reconnecting;
      expect(await ask(second.port, 'SENTINEL', 'FAILOVER', setup.name)).toBe('OK');
      await announced;
    } finally {
      first.resume();
    }
    const promoted = await ask<[string, string]>(second.port, 'SENTINEL', 'get-master-addr-by-name', setup.name);
    expect(Number(promoted[1])).not.toBe(oldMaster.port);

    // Without the reopening, each cancelled attempt ended its connection: status 'end', never ready.
    await Promise.all(connections.map((connection) => (connection.status === 'ready' ? undefined : next(connection, 'ready'))));
    expect(await command.set('written-after-the-failover', 'yes')).toBe('OK');
    expect(await ask(Number(promoted[1]), 'GET', 'written-after-the-failover')).toBe('yes');
    // The subscriber subscribed again (ioredis does, once a reopened connection is ready).
    const heard = new Promise<string>((resolve) => subscriber.once('message', (_channel: string, message: string) => resolve(message)));
    await waitUntilSubscribed(Number(promoted[1]), 'after-the-failover');
    expect(await command.publish('after-the-failover', 'hello')).toBe(1);
    expect(await heard).toBe('hello');
    // The interleaving did happen: the attempts the announcement cancelled were reported.
    expect(errors.filter((message) => message === 'Connection is closed.').length).toBeGreaterThanOrEqual(2);
  } finally {
    listener.disconnect();
    await closeRedisConnections(connections);
  }
});
