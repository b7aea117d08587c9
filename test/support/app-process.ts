// One of the app's entry points (src/main.ts, src/worker.ts, src/cli/seed.ts) in a child process, as
// a deployment runs it: an environment of its own (the suite's own settings are never inherited),
// both pipes drained for its whole life, JSON log lines parsed as they come, waits on a log line or
// the exit (never a sleep). Every process started here is killed, and its scratch directory removed,
// when the Jest worker exits, even if a test forgot it. gateway-process.ts and worker-process.ts
// build on this; tests use those.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import path from 'node:path';
import { configKeys } from '../../src/config';
import { onProcessExit, processShared } from '../../src/testing/process-shared';
import { killWhenThisProcessDies } from '../../src/testing/watchdog';

/** App settings (see src/config.ts) and any other variables; `undefined` removes a default. */
export type AppEnv = Record<string, string | undefined>;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One parsed pino line from the process's stdout. */
export type AppLogLine = Record<string, unknown> & { msg?: string };

export interface AppProcess {
  pid: number;
  child: ChildProcess;
  /** The environment the process was started with. */
  env: NodeJS.ProcessEnv;
  /** Everything written to stdout so far (the tail, for very chatty processes). */
  stdout(): string;
  stderr(): string;
  /** The stdout lines that parsed as JSON objects, oldest first. */
  logs(): AppLogLine[];
  /** Resolves with the first log line, past or future, that matches; rejects if the process exits first. */
  waitForLog(matches: (line: AppLogLine) => boolean, timeoutMs?: number): Promise<AppLogLine>;
  /** Resolves when the process has exited and its output is fully read. */
  waitForExit(): Promise<ExitStatus>;
  /** Sends `signal` (@default 'SIGTERM') and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** SIGKILL (a crash, as clients and Redis see it), then waits for the exit. */
  kill(): Promise<ExitStatus>;
  /** An error message: "<label> <pid> <what>." with the command, the settings and the output's tail. */
  describe(what: string): string;
}

export interface SpawnAppOptions {
  /** The entry point, relative to the repository root, e.g. 'src/worker.ts'. */
  script: string;
  /** Command-line arguments after the script. @default [] */
  args?: string[];
  /** Applied over `defaults`. @default {} */
  env?: AppEnv;
  /** The entry point's test defaults (NODE_ENV, LOG_LEVEL...). @default {} */
  defaults?: Record<string, string>;
  /** A scratch directory the process uses, removed when it exits. @default none */
  scratchDir?: string;
  /** Names the process in error messages, e.g. 'gateway process'. */
  label: string;
}

export const repoRoot = path.resolve(__dirname, '..', '..');
const swcRegister = path.join(repoRoot, 'scripts', 'register-swc.js');
/** How much of each stream is kept, and how much of it goes into error messages. */
const keptOutputChars = 1_000_000;
const reportedOutputChars = 8_000;
const keptLogLines = 10_000;
/**
 * The app's own settings are never inherited: the suite itself runs with DATABASE_URL set (CI's
 * PostgreSQL pass), and a child must not silently share that database or a developer's PORT.
 */
const nonInheritedVariables = new Set<string>(configKeys);

interface LiveRegistry {
  /** Every process started here in this worker (by any test file) and not yet exited. */
  children: Set<ChildProcess>;
  /** Scratch directories of processes that have not exited yet. */
  scratchDirs: Set<string>;
}

/** Shared by every test file in this worker; cleaned up when the worker exits. */
const live = processShared('appProcesses', (): LiveRegistry => {
  const registry: LiveRegistry = { children: new Set(), scratchDirs: new Set() };
  onProcessExit(() => {
    for (const child of registry.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    registry.children.clear();
    for (const dir of registry.scratchDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // Best effort: it is under the OS temp directory.
      }
    }
    registry.scratchDirs.clear();
  });
  return registry;
});

/** The environment of a child: the test runner's own minus the app's settings, then `defaults`, then `given`. */
export function appEnv(defaults: Record<string, string>, given: AppEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !nonInheritedVariables.has(name)) env[name] = value;
  }
  Object.assign(env, defaults);
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export function spawnAppProcess(options: SpawnAppOptions): AppProcess {
  const env = appEnv(options.defaults ?? {}, options.env);
  const nodeArgs = ['-r', swcRegister, path.join(repoRoot, options.script), ...(options.args ?? [])];
  const child = spawn(process.execPath, nodeArgs, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  killWhenThisProcessDies(child);
  live.children.add(child);
  const { scratchDir } = options;
  if (scratchDir) live.scratchDirs.add(scratchDir);

  let stdout = '';
  let stderr = '';
  const logs: AppLogLine[] = [];
  const logListeners = new Set<(line: AppLogLine) => void>();

  // Both pipes are drained for the whole life of the process: a full pipe would block it.
  let partialLine = '';
  const takeLine = (line: string): void => {
    const entry = parseLogLine(line);
    if (!entry) return;
    logs.push(entry);
    if (logs.length > keptLogLines) logs.shift();
    for (const listener of logListeners) listener(entry);
  };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    stdout = (stdout + chunk).slice(-keptOutputChars);
    const lines = (partialLine + chunk).split('\n');
    partialLine = lines.pop() ?? '';
    lines.forEach(takeLine);
  });
  child.stdout!.on('end', () => takeLine(partialLine));
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-keptOutputChars);
  });

  const exited = new Promise<ExitStatus>((resolve) => {
    const finish = async (status: ExitStatus): Promise<void> => {
      live.children.delete(child);
      if (scratchDir) {
        await rm(scratchDir, { recursive: true, force: true });
        live.scratchDirs.delete(scratchDir);
      }
      resolve(status);
    };
    child.once('close', (code, signal) => void finish({ code, signal }));
    // Only a failed spawn reports here without a 'close' to follow.
    child.once('error', (error) => {
      if (child.pid !== undefined) return;
      stderr += `spawn failed: ${error.message}\n`;
      void finish({ code: null, signal: null });
    });
  });
  // A running process must not keep the Jest worker alive on its own; the exit hook kills it
  // instead. Waiting for its exit holds it again.
  child.unref();
  (child.stdout as Socket | null)?.unref();
  (child.stderr as Socket | null)?.unref();

  const describe = (what: string): string => {
    const settings = Object.entries(env)
      .filter(([name]) => nonInheritedVariables.has(name))
      .map(([name, value]) => `${name}=${redactPassword(value ?? '')}`)
      .join(' ');
    const tail = (text: string): string => text.slice(-reportedOutputChars).trim() || '(none)';
    return (
      `${options.label} ${child.pid ?? '(not started)'} ${what}.\n` +
      `Command: ${process.execPath} ${nodeArgs.join(' ')} (cwd ${repoRoot})\n` +
      `Settings: ${settings}\n` +
      `stderr:\n${tail(stderr)}\n` +
      `stdout:\n${tail(stdout)}`
    );
  };
  const signalAndWait = (signal: NodeJS.Signals): Promise<ExitStatus> => {
    child.ref();
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };

  return {
    pid: child.pid!,
    child,
    env,
    stdout: () => stdout,
    stderr: () => stderr,
    logs: () => [...logs],
    waitForLog: (matches, timeoutMs = 30_000) => {
      const earlier = logs.find(matches);
      if (earlier) return Promise.resolve(earlier);
      return new Promise((resolve, reject) => {
        let isSettled = false;
        const settle = (error: Error | undefined, line?: AppLogLine): void => {
          if (isSettled) return;
          isSettled = true;
          clearTimeout(timer);
          logListeners.delete(onLog);
          if (error) reject(error);
          else resolve(line!);
        };
        const onLog = (line: AppLogLine): void => {
          if (matches(line)) settle(undefined, line);
        };
        logListeners.add(onLog);
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
    describe,
  };
}

/** Waits for a process expected to exit by itself (bad config, a CLI run); kills it after `timeoutMs`. */
export async function waitForOwnExit(app: AppProcess, timeoutMs: number): Promise<ExitStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), timeoutMs)));
  const outcome = await Promise.race([app.waitForExit(), timedOut]);
  clearTimeout(timer);
  if (outcome !== 'timed out') return outcome;
  await app.kill();
  throw new Error(app.describe(`was still running after ${timeoutMs} ms`));
}

function parseLogLine(line: string): AppLogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null ? (parsed as AppLogLine) : undefined;
  } catch {
    return undefined;
  }
}

function redactPassword(value: string): string {
  return value.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}
