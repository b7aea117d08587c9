// A bounded wait: what depends on Redis or the database must answer in time or be treated as down.

/** Resolves or rejects as `work` does, or rejects with `message` after `timeoutMs`. */
export function withTimeout<T>(work: Promise<T>, timeoutMs: number, message = `no answer within ${timeoutMs} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([work, timedOut]).finally(() => clearTimeout(timer));
}
