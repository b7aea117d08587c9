// `npm run seed` as a user runs it: the CLI itself (without npm's own output) in a child process
// (app-process.ts), configured only by the variables given here (none of the test runner's own
// settings leak in).
import { spawnAppProcess, type AppEnv } from './app-process';

const seedTimeoutMs = 60_000;

export interface SeedResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the seed CLI with `env` (PGLITE_DIR or DATABASE_URL...) and `args`; killed after 60 s. */
export async function runSeedCli(env: AppEnv, args: string[] = []): Promise<SeedResult> {
  const seed = spawnAppProcess({ script: 'src/cli/seed.ts', args, label: 'seed CLI', defaults: { NODE_ENV: 'test', LOG_LEVEL: 'warn' }, env });
  const timer = setTimeout(() => void seed.kill(), seedTimeoutMs);
  const { code } = await seed.waitForExit();
  clearTimeout(timer);
  return { code, stdout: seed.stdout(), stderr: seed.stderr() };
}
