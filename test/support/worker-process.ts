// Runs the real worker (src/worker.ts) in a child process, as a deployment does: its own
// environment, JSON logs on stdout. Readiness is the "Streamgate worker ready" log line, never a
// sleep; every process started here is killed when the Jest worker exits, even if a test forgot it.
// (The gateway's helper, gateway-process.ts, does the same for src/main.ts.)
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import path from 'node:path';
import { configKeys } from '../../src/config';
import type { ExitStatus, GatewayEnv, GatewayLogLine, GatewayProcess } from './gateway-process';
import { onWorkerExit, workerShared } from './worker-exit';

export interface WorkerProcessOptions {
  /** Applied over NODE_ENV=test, LOG_LEVEL=info; `undefined` removes a variable. @default {} */
  env?: GatewayEnv;
  /** Command-line arguments, e.g. `['--rebuild', 'top-products']`. @default [] */
  args?: string[];
}

/** A worker process: the same handle as a gateway process, without the URLs and the PGlite folder. */
export type WorkerProcess = Omit<GatewayProcess, 'url' | 'wsUrl' | 'pgliteDir'>;

export interface WorkerRunResult extends ExitStatus {
  stdout: string;
  stderr: string;
  logs: GatewayLogLine[];
}

const repoRoot = path.resolve(__dirname, '..', '..');
const nodeArgs = ['-r', path.join(repoRoot, 'scripts', 'register-swc.js'), path.join(repoRoot, 'src', 'worker.ts')];
export const WORKER_READY_MESSAGE = 'Streamgate worker ready';
const reportedOutputChars = 8_000;
/** The suite's own settings (CI's DATABASE_URL...) are never inherited: each test says what a worker uses. */
const nonInheritedVariables = new Set<string>(configKeys);

const liveWorkers = workerShared('streamgate.test.workerProcesses', () => {
  const live = new Set<ChildProcess>();
  onWorkerExit(() => {
    for (const child of live) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    live.clear();
  });
  return live;
});

/** Starts a worker and waits for its ready line (killing it if that never comes). */
export async function startWorkerProcess(options: WorkerProcessOptions = {}, readyTimeoutMs = 60_000): Promise<WorkerProcess> {
  const worker = spawnWorker(options);
  try {
    await worker.waitForLog((line) => line.msg === WORKER_READY_MESSAGE, readyTimeoutMs);
  } catch (error) {
    await worker.kill();
    throw error;
  }
  return worker;
}

/** Runs a worker that is expected to exit by itself (a rebuild, a start-up failure). */
export async function runWorkerToExit(options: WorkerProcessOptions = {}, exitTimeoutMs = 60_000): Promise<WorkerRunResult> {
  const worker = spawnWorker(options);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), exitTimeoutMs)));
  const outcome = await Promise.race([worker.waitForExit(), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timed out') {
    await worker.kill();
    throw new Error(`worker ${worker.pid} was still running after ${exitTimeoutMs} ms.\nstderr:\n${worker.stderr()}\nstdout:\n${worker.stdout()}`);
  }
  return { ...outcome, stdout: worker.stdout(), stderr: worker.stderr(), logs: worker.logs() };
}

function spawnWorker(options: WorkerProcessOptions): WorkerProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !nonInheritedVariables.has(name)) env[name] = value;
  }
  Object.assign(env, { NODE_ENV: 'test', LOG_LEVEL: 'info' });
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const child = spawn(process.execPath, [...nodeArgs, ...(options.args ?? [])], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  liveWorkers.add(child);

  let stdout = '';
  let stderr = '';
  let partialLine = '';
  const logs: GatewayLogLine[] = [];
  const listeners = new Set<(line: GatewayLogLine) => void>();
  const takeLine = (line: string): void => {
    if (!line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as GatewayLogLine;
      logs.push(entry);
      for (const listener of listeners) listener(entry);
    } catch {
      // Not a log line.
    }
  };
  // Both pipes are drained for the whole life of the process: a full pipe would block the worker.
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    stdout += chunk;
    const lines = (partialLine + chunk).split('\n');
    partialLine = lines.pop() ?? '';
    lines.forEach(takeLine);
  });
  child.stdout!.on('end', () => takeLine(partialLine));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('close', (code, signal) => {
      liveWorkers.delete(child);
      resolve({ code, signal });
    });
  });
  // A running worker must not keep the Jest worker alive on its own; the exit hook kills it instead.
  child.unref();
  (child.stdout as Socket | null)?.unref();
  (child.stderr as Socket | null)?.unref();

  const describe = (what: string) =>
    `worker process ${child.pid} ${what}.\nstderr:\n${stderr.slice(-reportedOutputChars) || '(none)'}\n` +
    `stdout:\n${stdout.slice(-reportedOutputChars) || '(none)'}`;
  const signalAndWait = (signal: NodeJS.Signals): Promise<ExitStatus> => {
    child.ref();
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };

  return {
    pid: child.pid!,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    logs: () => [...logs],
    waitForLog: (matches, timeoutMs = 30_000) => {
      const earlier = logs.find(matches);
      if (earlier) return Promise.resolve(earlier);
      return new Promise((resolve, reject) => {
        const settle = (error: Error | undefined, line?: GatewayLogLine) => {
          clearTimeout(timer);
          listeners.delete(onLog);
          if (error) reject(error);
          else resolve(line!);
        };
        const onLog = (line: GatewayLogLine) => matches(line) && settle(undefined, line);
        listeners.add(onLog);
        const timer = setTimeout(() => settle(new Error(describe(`logged no matching line within ${timeoutMs} ms`))), timeoutMs);
        void exited.then(({ code, signal }) => settle(new Error(describe(`exited (code ${code}, signal ${signal}) before a matching log line`))));
      });
    },
    waitForExit: () => {
      child.ref();
      return exited;
    },
    stop: (signal = 'SIGTERM') => signalAndWait(signal),
    kill: () => signalAndWait('SIGKILL'),
  };
}
