// A Redis Cluster of the test file's own: three masters (and, when asked, one replica each), all
// redis-server processes on free loopback ports (redis-server.ts), joined with
// `redis-cli --cluster create`. Ready when every node reports `cluster_state:ok` with all 16384
// slots assigned and knows every other node: a state the nodes report, polled, never a fixed sleep.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import type { RedisHostPort } from '../config';
import { startRedisServer, type RedisServerHandle } from './redis-server';
import type { Promotion } from './redis-sentinel';
import { waitUntil } from './wait';

export interface ClusterSetupOptions {
  /** Replicas per master (a failover test needs one). @default 0 */
  replicasPerMaster?: number;
  /** How long an unreachable master is up before the cluster fails it over. @default 1000 */
  nodeTimeoutMs?: number;
}

export interface ClusterSetup {
  /** `host:port,…` of every node (REDIS_CLUSTER_NODES). */
  nodeList: string;
  nodes: RedisHostPort[];
  /** Every data server, masters first as started. */
  servers: RedisServerHandle[];
  /** The node serving `key`'s slot now, as a live node sees the slot map. */
  masterOf(key: string): Promise<RedisHostPort>;
  /**
   * SIGKILLs the master serving `key`'s slot; `promotion` resolves once the live nodes serve that
   * slot from another node (the replica they promoted).
   */
  killMasterOf(key: string, timeoutMs?: number): Promise<{ killed: RedisHostPort; promotion: Promise<Promotion> }>;
  /**
   * Moves `key`'s slot (and any keys in it) to another master, as `redis-cli --cluster reshard`
   * does for each slot: IMPORTING / MIGRATING, MIGRATE, then SETSLOT NODE on every master.
   * `promotion` resolves at once: the move is done when this returns.
   */
  moveSlotOf(key: string): Promise<{ promotion: Promise<Promotion> }>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const MASTERS = 3;

export async function startClusterSetup(options: ClusterSetupOptions = {}): Promise<ClusterSetup> {
  const replicasPerMaster = options.replicasPerMaster ?? 0;
  const directory = await mkdtemp(join(tmpdir(), 'streamgate-cluster-'));
  const servers: RedisServerHandle[] = [];
  const stopAll = async () => {
    await Promise.all(servers.map((server) => server.kill()));
    await rm(directory, { recursive: true, force: true });
  };
  try {
    for (let index = 0; index < MASTERS * (1 + replicasPerMaster); index++) {
      servers.push(
        await startRedisServer({
          args: [
            '--cluster-enabled', 'yes',
            // Each node rewrites its own file with what it learns of the others.
            '--cluster-config-file', join(directory, `nodes-${index}.conf`),
            '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1000),
            '--dir', directory,
          ],
        }),
      );
    }
    const nodes = servers.map(({ port }) => ({ host: HOST, port }));
    const addresses = nodes.map(({ host, port }) => `${host}:${port}`);
    await promisify(execFile)('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes']);
    await waitUntil(
      async () => {
        const views = await Promise.all(servers.map((server) => clusterInfo(server.port)));
        return views.every((view) => view.cluster_state === 'ok' && view.cluster_slots_ok === '16384' && view.cluster_known_nodes === String(servers.length));
      },
      'every cluster node reports all slots served and knows every other node',
      30_000,
      50,
    );
    // A replica that has not synced with its master yet would not be promoted when it dies.
    await waitUntil(
      async () => {
        const replication = await Promise.all(servers.map((server) => withNode(server.port, (connection) => connection.info('replication'))));
        return replication.every((info) => info.includes('role:master') || info.includes('master_link_status:up'));
      },
      'every replica has synced with its master',
      30_000,
      50,
    );
    const killed = new Set<number>();
    const masterOf = async (key: string): Promise<RedisHostPort> => {
      const live = servers.find((server) => !killed.has(server.port))!;
      return slotOwner(live.port, key);
    };
    return {
      nodeList: addresses.join(','),
      nodes,
      servers,
      masterOf,
      async killMasterOf(key, timeoutMs = 30_000) {
        const current = await masterOf(key);
        const server = servers.find(({ port }) => port === current.port)!;
        await server.kill();
        killed.add(current.port);
        const killedAt = Date.now();
        // Promotion is a state the nodes report (the slot's owner in CLUSTER SLOTS); there is no event to wait on.
        const promotion = waitUntil(async () => (await masterOf(key).catch(() => current)).port !== current.port, `a replica serves the slot of ${key}`, timeoutMs, 50).then(
          async (): Promise<Promotion> => ({ from: current, to: await masterOf(key), afterMs: Date.now() - killedAt }),
        );
        return { killed: current, promotion };
      },
      async moveSlotOf(key) {
        const startedAt = Date.now();
        const live = servers.filter((server) => !killed.has(server.port));
        const from = await masterOf(key);
        const masters = await Promise.all(live.map(async (server) => ({ port: server.port, ...(await nodeRole(server.port)) })));
        const source = masters.find((node) => node.port === from.port)!;
        const target = masters.find((node) => node.isMaster && node.port !== from.port)!;
        await withNode(source.port, async (sourceNode) => {
          const slot = Number(await sourceNode.call('CLUSTER', 'KEYSLOT', key));
          await withNode(target.port, (targetNode) => targetNode.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id));
          await sourceNode.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
          for (;;) {
            const keys = (await sourceNode.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
            if (keys.length === 0) break;
            await sourceNode.call('MIGRATE', HOST, target.port, '', 0, 5000, 'KEYS', ...keys);
          }
          for (const node of masters.filter((candidate) => candidate.isMaster)) {
            await withNode(node.port, (connection) => connection.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id));
          }
        });
        const to = { host: HOST, port: target.port };
        return { promotion: Promise.resolve({ from, to, afterMs: Math.max(1, Date.now() - startedAt) }) };
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function withNode<T>(port: number, use: (connection: Redis) => Promise<T>): Promise<T> {
  const connection = new Redis(port, HOST, { lazyConnect: true });
  try {
    await connection.connect();
    return await use(connection);
  } finally {
    connection.disconnect();
  }
}

/** A node's id and whether it is a master (CLUSTER MYID, ROLE). */
async function nodeRole(port: number): Promise<{ id: string; isMaster: boolean }> {
  return withNode(port, async (connection) => ({
    id: String(await connection.call('CLUSTER', 'MYID')),
    isMaster: ((await connection.call('ROLE')) as [string])[0] === 'master',
  }));
}

/** The node serving `key`'s slot, as the node on `port` sees the slot map. */
async function slotOwner(port: number, key: string): Promise<RedisHostPort> {
  const connection = new Redis(port, HOST, { lazyConnect: true });
  try {
    await connection.connect();
    const slot = Number(await connection.call('CLUSTER', 'KEYSLOT', key));
    const ranges = (await connection.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
    const range = ranges.find(([first, last]) => slot >= first && slot <= last);
    if (!range) throw new Error(`no node serves slot ${slot}`);
    return { host: range[2][0], port: Number(range[2][1]) };
  } finally {
    connection.disconnect();
  }
}

async function clusterInfo(port: number): Promise<Record<string, string>> {
  const connection = new Redis(port, HOST, { lazyConnect: true });
  try {
    await connection.connect();
    const text = (await connection.call('CLUSTER', 'INFO')) as string;
    return Object.fromEntries(text.split('\r\n').filter(Boolean).map((line) => line.split(':') as [string, string]));
  } finally {
    connection.disconnect();
  }
}
