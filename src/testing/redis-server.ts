// Starts a real redis-server on a free loopback port, which its owner can kill and restart: the
// test kit's own server (redis.ts), each test file's (test/support/redis-topology.ts) and the benches'.
// Readiness is an event (the "Ready to accept connections" log line), never a sleep; every process
// started here is killed when the Jest worker exits, even if a test forgot it, and even when the
// worker is killed (watchdog.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { onProcessExit, processShared } from './process-shared';
import { killWhenThisProcessDies } from './watchdog';

export interface RedisServerHandle {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** SIGTERM, then wait for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL, then wait for the process to exit (a crash, as clients see it). */
  kill(): Promise<void>;
  /** Starts a new process on the same port after stop() or kill(), and waits until it is ready. */
  restart(): Promise<void>;
  /** SIGSTOP: the server holds its connections and answers nothing (a hung server) until resume(). */
  pause(): void;
  /** SIGCONT after pause(): it answers what it was sent meanwhile. */
  resume(): void;
}

export interface RedisServerOptions {
  /** Extra command-line arguments, e.g. `['--maxmemory', '10mb']`. @default [] */
  args?: string[];
  /**
   * Run as a Sentinel (`redis-server <configFile> --sentinel`) with this configuration file, which
   * must be writable: Sentinel rewrites it. Ready once it monitors its master. @default undefined
   */
  sentinelConfigFile?: string;
}

const readyTimeoutMs = 10_000;
const readyLine = 'Ready to accept connections';
/** A Sentinel never prints readyLine; it is ready once it monitors its master. */
const sentinelReadyLine = '+monitor master';
const portAttempts = 3;
/** How much of the server's output is kept for error messages. */
const logTailChars = 8_000;

/** Every server started by this helper in this worker (by any test file) and not yet exited. */
const liveProcesses = processShared('redisServers', () => {
  const live = new Set<ChildProcess>();
  onProcessExit(() => {
    for (const child of live) {
      if (isRunning(child)) child.kill('SIGKILL');
    }
    live.clear();
  });
  return live;
});

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const extraArgs = options.sentinelConfigFile ? [...(options.args ?? []), '--sentinel'] : (options.args ?? []);
  const launch = (port: number) => spawnReady(port, extraArgs, options.sentinelConfigFile);

  // The port is free when we look and taken by someone else a moment later only rarely; try again then.
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 1; child === undefined; attempt++) {
    port = await freePort();
    try {
      child = await launch(port);
    } catch (error) {
      if (!(error instanceof PortInUseError) || attempt >= portAttempts) throw error;
    }
  }

  let current: ChildProcess | undefined = child;
  const signalAndWait = async (signal: NodeJS.Signals): Promise<void> => {
    const running = current;
    current = undefined;
    if (!running) return;
    // A paused server would take SIGTERM only once continued.
    if (isRunning(running)) running.kill('SIGCONT');
    await terminate(running, signal);
  };

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => signalAndWait('SIGTERM'),
    kill: () => signalAndWait('SIGKILL'),
    async restart() {
      if (current && isRunning(current)) {
        throw new Error(`redis-server on port ${port} is still running: stop() or kill() it first`);
      }
      current = await launch(port);
    },
    pause: () => void current?.kill('SIGSTOP'),
    resume: () => void current?.kill('SIGCONT'),
  };
}

class PortInUseError extends Error {}

/**
 * Ports are handed out from a block of this process's own (per Jest worker), below Linux's
 * ephemeral range (32768 and up, which the kernel gives to port-0 listeners and outgoing
 * connections), each at most once per process. A port the kernel picks could be one another test
 * file had just freed by killing its redis-server to restart it on the same port: the two files'
 * clients would then talk to each other's server, and one's shutdown would close the other's
 * connections ("Connection is closed" in a set-up that had nothing to do with it).
 */
const PORT_BLOCK_START = 20_000;
const PORT_BLOCK_SIZE = 1000;
const PORT_BLOCKS = 12;

/** A loopback port nothing listens on now and this process never handed out before. */
export async function freePort(): Promise<number> {
  const workerIndex = Number(process.env.JEST_WORKER_ID ?? 0) % PORT_BLOCKS;
  const handedOut = processShared('handedOutPorts', () => ({ count: 0 }));
  while (handedOut.count < PORT_BLOCK_SIZE) {
    const port = PORT_BLOCK_START + workerIndex * PORT_BLOCK_SIZE + handedOut.count;
    handedOut.count += 1;
    if (await listens(port)) return port;
  }
  return listens(0);
}

/** Listens on `port` (0: any) for a moment; the port, or 0 (falsy) when it is taken. */
function listens(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' && port !== 0 ? resolve(0) : reject(error)));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (bound > 0 ? resolve(bound) : reject(new Error('could not read the port of a probe server'))));
    });
  });
}

function spawnReady(port: number, extraArgs: string[], sentinelConfigFile?: string): Promise<ChildProcess> {
  const expectedLine = sentinelConfigFile ? sentinelReadyLine : readyLine;
  const args = [
    ...(sentinelConfigFile ? [sentinelConfigFile] : []),
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    // "notice" is the quietest level that still prints the ready line.
    '--loglevel', 'notice',
    ...extraArgs,
  ];
  // env is passed on purpose: inside Jest, process.env is the test's copy, and PATH lookups should see it.
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  killWhenThisProcessDies(child);

  return new Promise<ChildProcess>((resolve, reject) => {
    let output = '';
    let isSettled = false;

    const settle = (error?: Error): void => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      if (error) {
        liveProcesses.delete(child);
        if (isRunning(child)) child.kill('SIGKILL');
        reject(error);
        return;
      }
      // A ready server must not keep the worker alive on its own; the exit hook kills it instead.
      child.unref();
      resolve(child);
    };

    // Keep draining both pipes for the whole life of the process: a full pipe would block Redis.
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-logTailChars);
      if (!isSettled && output.includes(expectedLine)) settle();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    (child.stdout as Socket | null)?.unref();
    (child.stderr as Socket | null)?.unref();

    const describe = (what: string): string =>
      `redis-server on port ${port} ${what}.\n` +
      `Command: redis-server ${args.map((arg) => (arg === '' ? '""' : arg)).join(' ')}\n` +
      `Output (stdout+stderr):\n${output.trim() || '(none)'}`;

    child.once('error', (error: NodeJS.ErrnoException) => {
      settle(
        error.code === 'ENOENT'
          ? new Error('redis-server not found on PATH: install it (apt-get install -y redis-server, or brew install redis)')
          : new Error(describe(`could not be spawned: ${error.message}`)),
      );
    });
    child.once('exit', (code, signal) => {
      liveProcesses.delete(child);
      if (isSettled) return;
      const message = describe(`exited before it was ready (code ${code}, signal ${signal})`);
      settle(/address already in use/i.test(output) ? new PortInUseError(message) : new Error(message));
    });
    const timer = setTimeout(
      () => settle(new Error(describe(`was not ready after ${readyTimeoutMs} ms`))),
      readyTimeoutMs,
    );

    liveProcesses.add(child);
  });
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (!isRunning(child)) {
    liveProcesses.delete(child);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    // Held again so the worker waits for the exit we are awaiting.
    child.ref();
    child.once('exit', () => {
      liveProcesses.delete(child);
      resolve();
    });
    child.kill(signal);
  });
}
