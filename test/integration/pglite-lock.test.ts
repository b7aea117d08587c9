// The PGlite directory lock inside one process: a directory opens once until close() gives it back,
// a failed open leaves no lock behind, and memory:// databases are never locked. (Across processes,
// with a killed holder too: test/e2e/pglite-lock.test.ts.)
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../../src/db/client';
import { PgliteDirLockedError, STALE_LOCK_MS } from '../../src/db/pglite-dir-lock';

let scratchDir: string;
const opened: Database[] = [];

beforeAll(async () => {
  scratchDir = await mkdtemp(path.join(tmpdir(), 'streamgate-pglite-lock-'));
});

afterEach(async () => {
  for (const database of opened.splice(0)) await database.close().catch(() => undefined);
});

afterAll(async () => {
  if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
});

async function open(pgliteDir: string): Promise<Database> {
  const database = await openDatabase({ pgliteDir });
  opened.push(database);
  return database;
}

it('refuses a directory that is open, naming it, and opens it again after close()', async () => {
  const dir = path.join(scratchDir, 'reopened');
  const first = await open(dir);
  await first.db.execute(sql`create table marker (id int)`);

  const refusal = openDatabase({ pgliteDir: dir });
  await expect(refusal).rejects.toBeInstanceOf(PgliteDirLockedError);
  await expect(refusal).rejects.toThrow(`PGlite directory ${dir} is in use by another process`);

  await first.close();
  expect(existsSync(path.join(dir, 'streamgate.lock'))).toBe(false);
  const second = await open(dir);
  await expect(second.db.execute(sql`select count(*) from marker`)).resolves.toBeDefined();
});

it('refuses a second open in this process even when the lock looks abandoned', async () => {
  // A holder whose event loop was blocked past STALE_LOCK_MS (PGlite's synchronous initdb on a
  // loaded machine) has not refreshed the lock's mtime: to the lock file alone it looks abandoned.
  const dir = path.join(scratchDir, 'blocked-holder');
  await open(dir);
  const lockPath = path.join(dir, 'streamgate.lock');
  const { atime, mtime } = await stat(lockPath);
  const longAgo = new Date(Date.now() - 10 * STALE_LOCK_MS);
  await utimes(lockPath, longAgo, longAgo);
  try {
    const second = openDatabase({ pgliteDir: dir });
    second.then((database) => opened.push(database), () => undefined); // closed by afterEach if it opened
    await expect(second).rejects.toBeInstanceOf(PgliteDirLockedError);
  } finally {
    // The holder checks on its next refresh that the mtime is still the one it wrote.
    await utimes(lockPath, atime, mtime);
  }
});

it('releases the lock when PGlite cannot open the directory', async () => {
  const dir = path.join(scratchDir, 'broken');
  await open(dir).then((database) => database.close());
  // A data directory from an incompatible Postgres: PGlite refuses it after the lock was taken.
  await writeFile(path.join(dir, 'PG_VERSION'), '9\n');

  await expect(openDatabase({ pgliteDir: dir })).rejects.not.toBeInstanceOf(PgliteDirLockedError);
  expect(existsSync(path.join(dir, 'streamgate.lock'))).toBe(false);
});

it('never locks memory:// databases', async () => {
  const [first, second] = await Promise.all([open('memory://'), open('memory://')]);
  await expect(first.ping()).resolves.toBeUndefined();
  await expect(second.ping()).resolves.toBeUndefined();
});
