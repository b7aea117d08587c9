// A Redis Sentinel set-up of the test file's own: one master, one replica and three sentinels, all
// redis-server processes on free loopback ports (redis-server.ts), so a test can SIGKILL the master
// and wait for the sentinels to promote the replica. Readiness and promotion are events or states
// the sentinels report (`+switch-master`, `SENTINEL master`), never a fixed sleep.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { RedisHostPort } from '../config';
import { processShared } from './process-shared';
import { startRedisServer, type RedisServerHandle } from './redis-server';
import { waitUntil } from './wait';

export interface SentinelSetupOptions {
  /**
   * The master's name in the sentinels' configuration. @default a name no other set-up uses
   * ("streamgate-<pid>-<n>"): sentinels of another set-up (a run killed before it stopped its own)
   * that monitor a name this one uses would take part in its agreement and failovers.
   */
  name?: string;
  /** How long a silent master is up before the sentinels call it down. @default 1000 */
  downAfterMs?: number;
}

/** A promotion as the sentinels announced it. */
export interface Promotion {
  from: RedisHostPort;
  to: RedisHostPort;
  /** From the kill to the `+switch-master` announcement. */
  afterMs: number;
}

export interface SentinelSetup {
  name: string;
  /** `host:port,…` of the three sentinels (REDIS_SENTINELS). */
  sentinelList: string;
  sentinels: RedisHostPort[];
  /** The sentinels' processes, in the order of `sentinels` (to pause one). */
  sentinelServers: RedisServerHandle[];
  /** The data servers (master first, as started), to find the current master's process by port. */
  servers: RedisServerHandle[];
  /** Where the sentinels say the master is now. */
  master(): Promise<RedisHostPort>;
  /**
   * SIGKILLs the current master; `promotion` resolves when the sentinels announce the replica
   * they promoted (`+switch-master`, listened to before the kill).
   */
  killMaster(timeoutMs?: number): Promise<{ killed: RedisHostPort; promotion: Promise<Promotion> }>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const QUORUM = 2;
/** Set-ups started in this process (by any test file), for their default names. */
const setUps = processShared('sentinelSetUps', () => ({ count: 0 }));

export async function startSentinelSetup(options: SentinelSetupOptions = {}): Promise<SentinelSetup> {
  const name = options.name ?? `streamgate-${process.pid}-${(setUps.count += 1)}`;
  const downAfterMs = options.downAfterMs ?? 1000;
  const directory = await mkdtemp(join(tmpdir(), 'streamgate-sentinel-'));
  const started: RedisServerHandle[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((server) => server.kill()));
    await rm(directory, { recursive: true, force: true });
  };
  try {
    // --dir: a replica writes the master's snapshot to dump.rdb in its working directory on sync.
    const master = await startRedisServer({ args: ['--dir', directory] });
    started.push(master);
    const replica = await startRedisServer({ args: ['--dir', directory, '--replicaof', HOST, String(master.port)] });
    started.push(replica);
    await waitUntil(async () => /master_link_status:up/.test(await info(replica.port, 'replication')), 'the replica has synced with the master');

    const sentinels: RedisServerHandle[] = [];
    for (let index = 0; index < 3; index++) {
      const configFile = join(directory, `sentinel-${index}.conf`);
      // The file must be writable: Sentinel rewrites it with what it learns.
      await writeFile(
        configFile,
        [
          `sentinel monitor ${name} ${HOST} ${master.port} ${QUORUM}`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const sentinel = await startRedisServer({ sentinelConfigFile: configFile });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // Agreement: every sentinel knows the two others and the replica (the hello channel and INFO
    // polling are theirs; there is no event to wait on, so this polls their state).
    await waitUntil(
      async () => {
        const views = await Promise.all(sentinels.map((sentinel) => sentinelMasterState(sentinel.port, name)));
        return views.every((view) => view['num-other-sentinels'] === '2' && view['num-slaves'] === '1' && view.port === String(master.port));
      },
      'the three sentinels know each other, the master and its replica',
      30_000,
      50,
    );

    const sentinelAddresses = sentinels.map(({ port }) => ({ host: HOST, port }));
    const askMaster = async (): Promise<RedisHostPort> => {
      const connection = new Redis(sentinels[0]!.port, HOST, { lazyConnect: true });
      try {
        await connection.connect();
        const [host, port] = (await connection.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string];
        return { host, port: Number(port) };
      } finally {
        connection.disconnect();
      }
    };
    return {
      name,
      sentinelList: sentinelAddresses.map(({ host, port }) => `${host}:${port}`).join(','),
      sentinels: sentinelAddresses,
      sentinelServers: sentinels,
      servers: [master, replica],
      master: askMaster,
      async killMaster(timeoutMs = 30_000) {
        const current = await askMaster();
        const server = [master, replica].find(({ port }) => port === current.port);
        if (!server) throw new Error(`the master ${current.host}:${current.port} is not a server of this set-up`);
        const listener = new Redis(sentinels[0]!.port, HOST, { lazyConnect: true });
        await listener.connect();
        await listener.subscribe('+switch-master');
        let killedAt = 0;
        const promotion = new Promise<Promotion>((resolve, reject) => {
          const timer = setTimeout(() => {
            listener.disconnect();
            reject(new Error(`no +switch-master within ${timeoutMs} ms of killing ${current.host}:${current.port}`));
          }, timeoutMs);
          listener.on('message', (_channel: string, message: string) => {
            // "<master name> <old ip> <old port> <new ip> <new port>"
            const [master, fromHost, fromPort, toHost, toPort] = message.split(' ');
            if (master !== name) return;
            clearTimeout(timer);
            listener.disconnect();
            resolve({ from: { host: fromHost!, port: Number(fromPort) }, to: { host: toHost!, port: Number(toPort) }, afterMs: Date.now() - killedAt });
          });
        });
        killedAt = Date.now();
        await server.kill();
        return { killed: current, promotion };
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function info(port: number, section: string): Promise<string> {
  const connection = new Redis(port, HOST, { lazyConnect: true });
  try {
    await connection.connect();
    return await connection.info(section);
  } finally {
    connection.disconnect();
  }
}

async function sentinelMasterState(port: number, name: string): Promise<Record<string, string>> {
  const connection = new Redis(port, HOST, { lazyConnect: true });
  try {
    await connection.connect();
    const flat = (await connection.call('SENTINEL', 'master', name)) as string[];
    const state: Record<string, string> = {};
    for (let index = 0; index + 1 < flat.length; index += 2) state[flat[index]!] = flat[index + 1]!;
    return state;
  } finally {
    connection.disconnect();
  }
}
