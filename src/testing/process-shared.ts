// State shared by every test file of a process, and cleanup when it exits. Jest loads modules
// afresh for each test file and gives each a copy of `process` whose 'exit' listeners never fire:
// so what the kit keeps for the process's life (the redis-server it started, the migrated snapshot)
// hangs off the real process object, and its cleanup is registered there. Outside Jest the real
// process is the one everyone sees, and this changes nothing.
import { runInThisContext } from 'node:vm';

const realProcess = runInThisContext('process') as NodeJS.Process;

/** One value per process under `name`: `create` runs for the first caller only (in whichever test file). */
export function processShared<T>(name: string, create: () => T): T {
  const holder = realProcess as unknown as Record<symbol, T | undefined>;
  const key = Symbol.for(`streamgate.testing.${name}`);
  if (!(key in holder)) holder[key] = create();
  return holder[key] as T;
}

/** Runs `cleanup` (synchronous: nothing asynchronous runs on exit) when the real process exits or is terminated. */
export function onProcessExit(cleanup: () => void): void {
  realProcess.once('exit', cleanup);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = () => {
      cleanup();
      realProcess.removeListener(signal, onSignal);
      // Nobody else handles it: the signal takes its default course (the process ends).
      if (realProcess.listenerCount(signal) === 0) realProcess.kill(realProcess.pid, signal);
    };
    realProcess.on(signal, onSignal);
  }
}
