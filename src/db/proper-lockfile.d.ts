// proper-lockfile ships no types; this covers the part pglite-dir-lock.ts uses (its README documents
// the options).
declare module 'proper-lockfile' {
  export interface LockOptions {
    /** Milliseconds after the last mtime refresh at which a lock counts as abandoned (at least 2000). */
    stale?: number;
    /** Milliseconds between mtime refreshes. @default stale / 2 */
    update?: number;
    /** Attempts after the first, or `retry` module options. @default 0 */
    retries?: number;
    /** Resolve symlinks in `file` (which must then exist). @default true */
    realpath?: boolean;
    /** Called when the held lock is removed or taken by another process. @default throws */
    onCompromised?: (error: Error) => void;
    /** Where the lock directory is made. @default `${file}.lock` */
    lockfilePath?: string;
  }

  /** Resolves with the function that releases the lock; rejects with code ELOCKED while another holder has it. */
  export function lock(file: string, options?: LockOptions): Promise<() => Promise<void>>;
}
