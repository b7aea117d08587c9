// Runs the real gateway (src/main.ts) in a child process, as a deployment does: its own
// environment, a free port, JSON logs on stdout. Readiness is the "Streamgate ready at" log line,
// never a sleep; every process started here is killed (and its scratch PGlite directory removed)
// when the Jest worker exits, even if a test forgot it. Several processes can share one Redis and
// one PostgreSQL database, so the same helper runs replicas.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configKeys } from '../../src/config';
import { createScratchPostgresDatabase } from './scratch-postgres';
import { onWorkerExit, workerShared } from './worker-exit';

/** Gateway settings (see src/config.ts) and any other variables; `undefined` removes a default. */
export type GatewayEnv = Record<string, string | undefined>;

export interface GatewayProcessOptions {
  /**
   * Applied over the test defaults: NODE_ENV=test, HOST=127.0.0.1, PORT=0, LOG_LEVEL=info,
   * SEED_DEMO_DATA=true and, without DATABASE_URL, a fresh PGLITE_DIR removed when the process
   * exits (pass PGLITE_DIR yourself to keep the data for a later process). @default {}
   */
  env?: GatewayEnv;
  /** How long to wait for the ready log line before killing the process. @default 60_000 */
  readyTimeoutMs?: number;
}

export interface GatewayRunOptions {
  /** As for startGatewayProcess. @default {} */
  env?: GatewayEnv;
  /** How long the process may run before it is killed and the run fails. @default 30_000 */
  exitTimeoutMs?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GatewayRunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

/** One parsed pino line from the process's stdout. */
export type GatewayLogLine = Record<string, unknown> & { msg?: string };

export interface GatewayProcess {
  /** The GraphQL endpoint from the ready line, e.g. `http://127.0.0.1:41655/graphql`. */
  url: string;
  /** The same endpoint for graphql-ws: `ws://127.0.0.1:41655/graphql`. */
  wsUrl: string;
  pid: number;
  child: ChildProcess;
  /** The PGlite directory the process uses; null when it runs on DATABASE_URL. */
  pgliteDir: string | null;
  /** Everything written to stdout so far (the tail, for very chatty processes). */
  stdout(): string;
  stderr(): string;
  /** The stdout lines that parsed as JSON, oldest first. */
  logs(): GatewayLogLine[];
  /** Resolves with the first log line, past or future, that matches; rejects if the process exits first. */
  waitForLog(matches: (line: GatewayLogLine) => boolean, timeoutMs?: number): Promise<GatewayLogLine>;
  /** Resolves when the process has exited and its output is fully read. */
  waitForExit(): Promise<ExitStatus>;
  /** Sends `signal` (@default 'SIGTERM') and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** SIGKILL (a crash, as clients and Redis see it), then waits for the exit. */
  kill(): Promise<ExitStatus>;
}

const repoRoot = path.resolve(__dirname, '..', '..');
const nodeArgs = ['-r', path.join(repoRoot, 'scripts', 'register-swc.js'), path.join(repoRoot, 'src', 'main.ts')];
const readyMessagePrefix = 'Streamgate ready at';
/** How much of each stream is kept, and how much of it goes into error messages. */
const keptOutputChars = 1_000_000;
const reportedOutputChars = 8_000;
const keptLogLines = 10_000;
/**
 * The gateway's own settings are never inherited: the suite itself runs with DATABASE_URL set
 * (CI's PostgreSQL pass), and a child must not silently share that database or a developer's PORT.
 */
const nonInheritedVariables = new Set<string>(configKeys);

interface LiveRegistry {
  /** Every process started here in this worker (by any test file) and not yet exited. */
  children: Set<ChildProcess>;
  /** Scratch PGlite directories of processes that have not exited yet. */
  tempDirs: Set<string>;
}

/** Shared by every test file in this worker; cleaned up when the worker exits. */
const live = workerShared('streamgate.test.gatewayProcesses', (): LiveRegistry => {
  const registry: LiveRegistry = { children: new Set(), tempDirs: new Set() };
  onWorkerExit(() => {
    for (const child of registry.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    registry.children.clear();
    for (const dir of registry.tempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // Best effort: it is under the OS temp directory.
      }
    }
    registry.tempDirs.clear();
  });
  return registry;
});

export async function startGatewayProcess(options: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const gateway = spawnGateway(options.env ?? {});

  let ready: GatewayLogLine;
  try {
    ready = await waitForLog(gateway, (line) => line.msg?.startsWith(readyMessagePrefix) === true, readyTimeoutMs, 'the ready line');
  } catch (error) {
    await signalAndWait(gateway, 'SIGKILL');
    throw error;
  }
  if (typeof ready.url !== 'string') {
    await signalAndWait(gateway, 'SIGKILL');
    throw new Error(describe(gateway, `logged a ready line without a url: ${JSON.stringify(ready)}`));
  }

  // A running gateway must not keep the worker alive on its own; the exit hook kills it instead.
  gateway.child.unref();
  (gateway.child.stdout as Socket | null)?.unref();
  (gateway.child.stderr as Socket | null)?.unref();

  return {
    url: ready.url,
    wsUrl: ready.url.replace(/^http/, 'ws'),
    pid: gateway.child.pid!,
    child: gateway.child,
    pgliteDir: gateway.pgliteDir,
    stdout: () => gateway.stdout,
    stderr: () => gateway.stderr,
    logs: () => [...gateway.logs],
    waitForLog: (matches, timeoutMs = 30_000) => waitForLog(gateway, matches, timeoutMs, 'a matching log line'),
    waitForExit: () => {
      gateway.child.ref();
      return gateway.exited;
    },
    stop: (signal = 'SIGTERM') => signalAndWait(gateway, signal),
    kill: () => signalAndWait(gateway, 'SIGKILL'),
  };
}

/** Runs a gateway that is expected to exit by itself (bad config, no Redis) and returns how it ended. */
export async function runGatewayToExit(options: GatewayRunOptions = {}): Promise<GatewayRunResult> {
  const exitTimeoutMs = options.exitTimeoutMs ?? 30_000;
  const gateway = spawnGateway(options.env ?? {});
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => resolve('timed out'), exitTimeoutMs);
  });
  const outcome = await Promise.race([gateway.exited, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timed out') {
    await signalAndWait(gateway, 'SIGKILL');
    throw new Error(describe(gateway, `was still running after ${exitTimeoutMs} ms`));
  }
  return { ...outcome, stdout: gateway.stdout, stderr: gateway.stderr };
}

export interface GatewayDatabase {
  kind: 'pglite' | 'postgres';
  /** DATABASE_URL or PGLITE_DIR, to spread into a process's env. */
  env: GatewayEnv;
  /** Drops the PostgreSQL database (closing its connections) or removes the PGlite directory. */
  dispose(): Promise<void>;
}

/**
 * A fresh, empty database for gateway processes: with DATABASE_URL in the test environment, a new
 * PostgreSQL database next to the one it names (replicas can share it); otherwise a new PGlite
 * directory, which only one process at a time may open.
 */
export async function createGatewayDatabase(): Promise<GatewayDatabase> {
  const baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    const dir = mkdtempSync(path.join(tmpdir(), 'streamgate-e2e-pglite-'));
    return { kind: 'pglite', env: { PGLITE_DIR: dir }, dispose: () => rm(dir, { recursive: true, force: true }) };
  }
  const scratch = await createScratchPostgresDatabase(baseUrl, 'streamgate_e2e');
  return { kind: 'postgres', env: { DATABASE_URL: scratch.url }, dispose: () => scratch.drop() };
}

interface SpawnedGateway {
  child: ChildProcess;
  env: NodeJS.ProcessEnv;
  pgliteDir: string | null;
  stdout: string;
  stderr: string;
  logs: GatewayLogLine[];
  logListeners: Set<(line: GatewayLogLine) => void>;
  /** Resolves on 'close' (exit and both pipes drained), after a scratch PGlite directory is removed. */
  exited: Promise<ExitStatus>;
}

function spawnGateway(givenEnv: GatewayEnv): SpawnedGateway {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !nonInheritedVariables.has(name)) env[name] = value;
  }
  Object.assign(env, { NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', SEED_DEMO_DATA: 'true' });
  const isScratchPglite = givenEnv.PGLITE_DIR === undefined && !givenEnv.DATABASE_URL;
  const scratchDir = isScratchPglite ? mkdtempSync(path.join(tmpdir(), 'streamgate-gateway-')) : null;
  if (scratchDir) env.PGLITE_DIR = scratchDir;
  for (const [name, value] of Object.entries(givenEnv)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }

  const child = spawn(process.execPath, nodeArgs, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.children.add(child);
  if (scratchDir) live.tempDirs.add(scratchDir);

  const gateway: SpawnedGateway = {
    child,
    env,
    pgliteDir: env.DATABASE_URL ? null : (env.PGLITE_DIR ?? null),
    stdout: '',
    stderr: '',
    logs: [],
    logListeners: new Set(),
    exited: Promise.resolve({ code: null, signal: null }),
  };

  // Both pipes are drained for the whole life of the process: a full pipe would block the gateway.
  let partialLine = '';
  const takeLine = (line: string): void => {
    const entry = parseLogLine(line);
    if (!entry) return;
    gateway.logs.push(entry);
    if (gateway.logs.length > keptLogLines) gateway.logs.shift();
    for (const listener of gateway.logListeners) listener(entry);
  };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    gateway.stdout = (gateway.stdout + chunk).slice(-keptOutputChars);
    const lines = (partialLine + chunk).split('\n');
    partialLine = lines.pop() ?? '';
    lines.forEach(takeLine);
  });
  child.stdout!.on('end', () => takeLine(partialLine));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    gateway.stderr = (gateway.stderr + chunk).slice(-keptOutputChars);
  });

  gateway.exited = new Promise<ExitStatus>((resolve) => {
    const finish = async (status: ExitStatus): Promise<void> => {
      live.children.delete(child);
      if (scratchDir) {
        await rm(scratchDir, { recursive: true, force: true });
        live.tempDirs.delete(scratchDir);
      }
      resolve(status);
    };
    child.once('close', (code, signal) => void finish({ code, signal }));
    // Only a failed spawn reports here without a 'close' to follow.
    child.once('error', (error) => {
      if (child.pid !== undefined) return;
      gateway.stderr += `spawn failed: ${error.message}\n`;
      void finish({ code: null, signal: null });
    });
  });
  return gateway;
}

function parseLogLine(line: string): GatewayLogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null ? (parsed as GatewayLogLine) : undefined;
  } catch {
    return undefined;
  }
}

function waitForLog(
  gateway: SpawnedGateway,
  matches: (line: GatewayLogLine) => boolean,
  timeoutMs: number,
  what: string,
): Promise<GatewayLogLine> {
  const earlier = gateway.logs.find(matches);
  if (earlier) return Promise.resolve(earlier);
  return new Promise((resolve, reject) => {
    let isSettled = false;
    const settle = (error: Error | undefined, line?: GatewayLogLine): void => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      gateway.logListeners.delete(onLog);
      if (error) reject(error);
      else resolve(line!);
    };
    const onLog = (line: GatewayLogLine): void => {
      if (matches(line)) settle(undefined, line);
    };
    gateway.logListeners.add(onLog);
    const timer = setTimeout(() => settle(new Error(describe(gateway, `logged no ${what} within ${timeoutMs} ms`))), timeoutMs);
    void gateway.exited.then(({ code, signal }) =>
      settle(new Error(describe(gateway, `exited (code ${code}, signal ${signal}) before it logged ${what}`))),
    );
  });
}

function signalAndWait(gateway: SpawnedGateway, signal: NodeJS.Signals): Promise<ExitStatus> {
  const { child } = gateway;
  // Held again so the worker waits for the exit being awaited.
  child.ref();
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  return gateway.exited;
}

function describe(gateway: SpawnedGateway, what: string): string {
  const settings = Object.entries(gateway.env)
    .filter(([name]) => nonInheritedVariables.has(name))
    .map(([name, value]) => `${name}=${redactPassword(value ?? '')}`)
    .join(' ');
  const tail = (text: string): string => text.slice(-reportedOutputChars).trim() || '(none)';
  return (
    `gateway process ${gateway.child.pid ?? '(not started)'} ${what}.\n` +
    `Command: ${process.execPath} ${nodeArgs.join(' ')} (cwd ${repoRoot})\n` +
    `Settings: ${settings}\n` +
    `stderr:\n${tail(gateway.stderr)}\n` +
    `stdout:\n${tail(gateway.stdout)}`
  );
}

function redactPassword(value: string): string {
  return value.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}
