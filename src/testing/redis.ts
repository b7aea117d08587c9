// The Redis a test gateway runs on. By default a `redis-server` of the kit's own, started once per
// process on a free loopback port (a team needs no Redis running, and parallel Jest workers never
// share one); with `url` (or TEST_REDIS_URL, as the project's own suite reads it), an existing
// Redis. Either way each gateway gets a key prefix of its own, whose keys close() deletes, so a
// shared Redis keeps serving whoever else uses it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import type { RedisClient } from '../redis/client';
import { onProcessExit, processShared } from './process-shared';

export interface KitRedis {
  url: string;
  /** A prefix not used before in this process (and, with a random part, not by another). */
  newPrefix(): string;
  /** Deletes the keys of the prefixes handed out (the kit's own server lives on for the process's next gateway). */
  release(prefixes: readonly string[]): Promise<void>;
  /** Deletes the keys matching any of `patterns`, on `connection`. */
  deleteMatching(connection: Redis | RedisClient, patterns: readonly string[]): Promise<void>;
}

const READY_LINE = 'Ready to accept connections';
const READY_TIMEOUT_MS = 10_000;

/** The kit's own server: one per process, for all its test files. */
const ownServer = () => processShared('redisServer', startRedisServer);
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
    let cursor = '0';
    do {
      const [next, keys] = await (connection as Redis).scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length) await (connection as Redis).unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
}

async function startRedisServer(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice'];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  // Killed with the process, whatever ended it: a test that forgot close() leaves no server behind.
  onProcessExit(() => void (child.exitCode === null && child.kill('SIGKILL')));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server was not ready after ${READY_TIMEOUT_MS} ms:\n${output}`)), READY_TIMEOUT_MS);
    const collect = (chunk: Buffer) => {
      // Both pipes are read for the server's whole life: a full pipe would block it.
      output = (output + chunk.toString('utf8')).slice(-4000);
      if (output.includes(READY_LINE)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' ? new Error('redis-server not found on PATH: install it, or give createTestGateway a redisUrl') : error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (code ${code}) before it was ready:\n${output}`));
    });
  });
  // The server must not keep Jest's worker alive on its own.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  return { url: `redis://127.0.0.1:${port}`, child };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
