// `npm run seed` as a user runs it: the CLI itself (without npm's own output) in a child process,
// configured only by the variables given here (none of the test runner's own settings leak in).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { configKeys } from '../../src/config';
import type { GatewayEnv } from './gateway-process';

const repoRoot = path.resolve(__dirname, '..', '..');
const seedTimeoutMs = 60_000;

export interface SeedResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the seed CLI with `env` (PGLITE_DIR or DATABASE_URL...) and `args`; killed after 60 s. */
export function runSeedCli(env: GatewayEnv, args: string[] = []): Promise<SeedResult> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !(configKeys as readonly string[]).includes(name)) childEnv[name] = value;
  }
  for (const [name, value] of Object.entries({ NODE_ENV: 'test', LOG_LEVEL: 'warn', ...env })) {
    if (value !== undefined) childEnv[name] = value;
  }
  const child = spawn(process.execPath, ['-r', path.join(repoRoot, 'scripts', 'register-swc.js'), path.join(repoRoot, 'src', 'cli', 'seed.ts'), ...args], {
    cwd: repoRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), seedTimeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
