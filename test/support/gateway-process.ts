// Runs the real gateway (src/main.ts) in a child process (app-process.ts), as a deployment does: its
// own environment, a free port, JSON logs on stdout. Readiness is the "Streamgate ready at" log line,
// never a sleep; a scratch PGlite directory is removed when the process exits. Several processes can
// share one Redis and one PostgreSQL database, so the same helper runs replicas.
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnAppProcess, waitForOwnExit, type AppEnv, type AppLogLine, type AppProcess, type ExitStatus } from './app-process';
import { createScratchPostgresDatabase } from '../../src/testing/scratch-postgres';

export type { ExitStatus };

/** Gateway settings (see src/config.ts) and any other variables; `undefined` removes a default. */
export type GatewayEnv = AppEnv;
/** One parsed pino line from the process's stdout. */
export type GatewayLogLine = AppLogLine;

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

export interface GatewayRunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

export interface GatewayProcess extends Omit<AppProcess, 'env' | 'describe'> {
  /** The GraphQL endpoint from the ready line, e.g. `http://127.0.0.1:41655/graphql`. */
  url: string;
  /** The same endpoint for graphql-ws: `ws://127.0.0.1:41655/graphql`. */
  wsUrl: string;
  child: ChildProcess;
  /** The PGlite directory the process uses; null when it runs on DATABASE_URL. */
  pgliteDir: string | null;
}

const readyMessagePrefix = 'Streamgate ready at';
const gatewayDefaults = { NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', SEED_DEMO_DATA: 'true' };

export async function startGatewayProcess(options: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const gateway = spawnGateway(options.env ?? {});
  let ready: GatewayLogLine;
  try {
    ready = await gateway.waitForLog((line) => line.msg?.startsWith(readyMessagePrefix) === true, readyTimeoutMs);
  } catch (error) {
    await gateway.kill();
    throw error;
  }
  if (typeof ready.url !== 'string') {
    await gateway.kill();
    throw new Error(gateway.describe(`logged a ready line without a url: ${JSON.stringify(ready)}`));
  }
  const { env, describe: _describe, ...handle } = gateway;
  return {
    ...handle,
    url: ready.url,
    wsUrl: ready.url.replace(/^http/, 'ws'),
    pgliteDir: env.DATABASE_URL ? null : (env.PGLITE_DIR ?? null),
  };
}

/** Runs a gateway that is expected to exit by itself (bad config, no Redis) and returns how it ended. */
export async function runGatewayToExit(options: GatewayRunOptions = {}): Promise<GatewayRunResult> {
  const gateway = spawnGateway(options.env ?? {});
  const outcome = await waitForOwnExit(gateway, options.exitTimeoutMs ?? 30_000);
  return { ...outcome, stdout: gateway.stdout(), stderr: gateway.stderr() };
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

function spawnGateway(givenEnv: GatewayEnv): AppProcess {
  const isScratchPglite = givenEnv.PGLITE_DIR === undefined && !givenEnv.DATABASE_URL;
  const scratchDir = isScratchPglite ? mkdtempSync(path.join(tmpdir(), 'streamgate-gateway-')) : undefined;
  return spawnAppProcess({
    script: 'src/main.ts',
    label: 'gateway process',
    defaults: scratchDir ? { ...gatewayDefaults, PGLITE_DIR: scratchDir } : gatewayDefaults,
    env: givenEnv,
    scratchDir,
  });
}
