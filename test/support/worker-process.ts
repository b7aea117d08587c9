// Runs the real worker (src/worker.ts) in a child process (app-process.ts), as a deployment does:
// its own environment, JSON logs on stdout. Readiness is the "Streamgate worker ready" log line,
// never a sleep. (gateway-process.ts does the same for src/main.ts.)
import { spawnAppProcess, waitForOwnExit, type AppEnv, type AppLogLine, type AppProcess, type ExitStatus } from './app-process';

export interface WorkerProcessOptions {
  /** Applied over NODE_ENV=test, LOG_LEVEL=info; `undefined` removes a variable. @default {} */
  env?: AppEnv;
  /** Command-line arguments, e.g. `['--rebuild', 'top-products']`. @default [] */
  args?: string[];
}

/** A worker process: the same handle as a gateway process, without the URLs and the PGlite folder. */
export type WorkerProcess = Omit<AppProcess, 'env' | 'describe'>;

export interface WorkerRunResult extends ExitStatus {
  stdout: string;
  stderr: string;
  logs: AppLogLine[];
}

export const WORKER_READY_MESSAGE = 'Streamgate worker ready';

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
  const outcome = await waitForOwnExit(worker, exitTimeoutMs);
  return { ...outcome, stdout: worker.stdout(), stderr: worker.stderr(), logs: worker.logs() };
}

function spawnWorker(options: WorkerProcessOptions): AppProcess {
  return spawnAppProcess({
    script: 'src/worker.ts',
    args: options.args,
    label: 'worker process',
    defaults: { NODE_ENV: 'test', LOG_LEVEL: 'info' },
    env: options.env,
  });
}
