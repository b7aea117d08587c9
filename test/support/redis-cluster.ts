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
import type { RedisHostPort } from '../../src/config';
import { startRedisServer, type RedisServerHandle } from './redis-server';
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
    return { nodeList: addresses.join(','), nodes, servers, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
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
