// An exclusive lock on a PGlite data directory, held for as long as the database is open. PGlite is
// a whole Postgres inside one process, without the postmaster that guards a data directory: two
// processes on one directory each keep their own buffers and write past each other (a seed beside
// a running gateway left it serving new orders without their items). So every process that opens
// a directory takes this lock first, and one that cannot take it refuses to start.
//
// The lock is proper-lockfile's: an atomic mkdir of `<dir>/streamgate.lock` whose mtime the holder
// refreshes every STALE_LOCK_MS / 2. A normal exit (close, SIGTERM, even an uncaught exception)
// removes it; after SIGKILL or a power loss it stays, and the next process treats it as stale once
// its mtime is STALE_LOCK_MS old. Time, not a pid, decides staleness: pids are reused (in a container
// the gateway has the same small pid on every start) and mean nothing across pid namespaces that
// share a volume, whereas an mtime holds on any file system the lock directory lives on.
import path from 'node:path';

/** How long a lock left by a process that died without exiting (SIGKILL) keeps the directory locked, at most. */
export const STALE_LOCK_MS = 10_000;

/** Inside the data directory, so the lock travels with it (a volume shared by two containers) and goes with `rm -rf`. */
const LOCK_NAME = 'streamgate.lock';

/** Another process (a gateway, `npm run seed`) has the directory open. */
export class PgliteDirLockedError extends Error {
  override readonly name = 'PgliteDirLockedError';

  constructor(readonly dataDir: string) {
    super(
      `PGlite directory ${dataDir} is in use by another process (a running gateway or \`npm run seed\`): stop it first, ` +
        `or set PGLITE_DIR to another directory. A lock left by a process that was killed expires within ${STALE_LOCK_MS / 1000} s.`,
    );
  }
}

/** The lock stopped being ours while the database was open: someone removed it, or took it as stale. */
export class PgliteDirLockLostError extends Error {
  override readonly name = 'PgliteDirLockLostError';
}

/**
 * Directories this process holds. The lock file alone cannot refuse a second open in the same
 * process for sure: its staleness is time, and an event loop blocked past STALE_LOCK_MS (PGlite's
 * initdb runs synchronously, seconds on a loaded machine) leaves the mtime looking abandoned.
 */
const heldByThisProcess = new Set<string>();

export interface PgliteDirLock {
  /** Removes the lock; later calls do nothing. */
  release(): Promise<void>;
}

/** Takes the lock on `dataDir` (which must exist); throws PgliteDirLockedError while another process holds it. */
export async function lockPgliteDir(dataDir: string): Promise<PgliteDirLock> {
  const absoluteDir = path.resolve(dataDir);
  // Loaded on first use: it hooks process exit and signals to remove held locks, which in-memory
  // databases (the test suite) never need.
  const lockfile = await import('proper-lockfile');
  if (heldByThisProcess.has(absoluteDir)) throw new PgliteDirLockedError(absoluteDir);
  heldByThisProcess.add(absoluteDir);
  let releaseLock: () => Promise<void>;
  try {
    releaseLock = await lockfile.lock(absoluteDir, {
      lockfilePath: path.join(absoluteDir, LOCK_NAME),
      stale: STALE_LOCK_MS,
      retries: 0,
      onCompromised: (error) => {
        // Another process may be writing the directory now: going on would corrupt it. Crash (as an
        // unhandled 'error' event would) so a supervisor restarts us into a clear refusal.
        throw new PgliteDirLockLostError(
          `Lost the lock on PGlite directory ${absoluteDir} (${error.message}); exiting so that two processes never write it.`,
        );
      },
    });
  } catch (error) {
    heldByThisProcess.delete(absoluteDir);
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') throw new PgliteDirLockedError(absoluteDir);
    throw error;
  }
  let released: Promise<void> | undefined;
  return {
    release: () =>
      (released ??= releaseLock().finally(() => {
        heldByThisProcess.delete(absoluteDir);
      })),
  };
}
