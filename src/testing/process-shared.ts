// State shared by every test file of a process (a Jest worker), and cleanup when it exits, for
// the helpers that start processes or keep data for the process's life: the test kit's redis-server
// and snapshots, the project's own test support and benches.
//
// Jest runs each test file in a sandbox whose `process` is a copy: its 'exit' and signal listeners
// never fire, and a helper module is loaded afresh for every test file. So shared state and the hooks
// live on the worker's real process, installed once per worker: 'exit' covers a normal worker
// shutdown, and the termination signals cover Jest force-stopping a stuck worker with SIGTERM (which
// skips 'exit'); after the cleanups a signal takes its default course unless someone else listens for it.
import { runInThisContext } from 'node:vm';

const realProcess = runInThisContext('process') as NodeJS.Process;
const terminationSignals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * One value per process (Jest worker) under `name`, shared by every test file's copy of the calling module:
 * `create` runs for the first caller only. Registering an exit cleanup belongs in `create`, so that
 * it is registered once per worker, not once per test file.
 */
export function processShared<T>(name: string, create: () => T): T {
  const holder = realProcess as unknown as Record<symbol, T | undefined>;
  const key = Symbol.for(`streamgate.testing.${name}`);
  if (!(key in holder)) holder[key] = create();
  return holder[key] as T;
}

/**
 * Runs `cleanup` when the real process exits or receives SIGTERM, SIGINT or SIGHUP. It must
 * be synchronous (nothing asynchronous runs on 'exit') and may run more than once (a signal someone
 * else handles is followed by 'exit').
 */
export function onProcessExit(cleanup: () => void): void {
  processShared('exitCleanups', installHooks).add(cleanup);
}

function installHooks(): Set<() => void> {
  const cleanups = new Set<() => void>();
  const runAll = (): void => {
    for (const cleanup of cleanups) {
      try {
        cleanup();
      } catch {
        // Best effort: one helper's failure must not leave another helper's processes running.
      }
    }
  };
  realProcess.once('exit', runAll);
  for (const signal of terminationSignals) {
    const onSignal = (): void => {
      runAll();
      realProcess.removeListener(signal, onSignal);
      if (realProcess.listenerCount(signal) === 0) realProcess.kill(realProcess.pid, signal);
    };
    realProcess.on(signal, onSignal);
  }
  return cleanups;
}
