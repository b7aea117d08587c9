// The handle a test holds on a running subscription: the results as they arrive, read in order,
// as an async iterable (`for await`) or with next()/next(n), which wait on the results themselves
// (an event, never a sleep) up to a deadline that only turns a hang into a readable failure.
// expectNoEvent(ms) is the one place where waiting a fixed time is the test: "nothing arrives"
// cannot be observed any other way, so it asks for the window explicitly and fails at once when
// something does arrive.
import type { GraphQLResult } from './typed-document';

/** How long next() waits before failing with what it got so far. @default 5000 */
export const DEFAULT_NEXT_TIMEOUT_MS = 5_000;

export class TestSubscription<Data> implements AsyncIterable<GraphQLResult<Data>> {
  private readonly results: Array<GraphQLResult<Data>> = [];
  private readCount = 0;
  private isEnded = false;
  private readonly listeners = new Set<() => void>();
  private readonly closers: Array<() => unknown> = [];
  /** Whether close() was called (the test is done with it). */
  isClosed = false;

  /** Every result received so far, read or not. */
  get received(): ReadonlyArray<GraphQLResult<Data>> {
    return this.results;
  }

  /** Whether the subscription ended (completed, refused, or failed): no result follows. */
  get isComplete(): boolean {
    return this.isEnded;
  }

  /** The next result; with `count`, the next `count` results. Rejects when the subscription ends first or none comes in time. */
  next(): Promise<GraphQLResult<Data>>;
  next(count: number, options?: { timeoutMs?: number }): Promise<Array<GraphQLResult<Data>>>;
  async next(count?: number, { timeoutMs = DEFAULT_NEXT_TIMEOUT_MS }: { timeoutMs?: number } = {}): Promise<GraphQLResult<Data> | Array<GraphQLResult<Data>>> {
    const wanted = count ?? 1;
    await this.waitFor(() => this.results.length - this.readCount >= wanted || this.isEnded, timeoutMs, () => `${wanted} result(s)`);
    const available = this.results.length - this.readCount;
    if (available < wanted) {
      throw new Error(`The subscription ended after ${available} of the ${wanted} result(s) awaited; it received ${JSON.stringify(this.results)}`);
    }
    const taken = this.results.slice(this.readCount, this.readCount + wanted);
    this.readCount += wanted;
    return count === undefined ? taken[0]! : taken;
  }

  /**
   * Resolves after `windowMs` in which no result arrived; rejects as soon as one does. The only
   * time window in the kit: use it for "this write must NOT reach this subscriber", after a
   * write that would have been delivered within the window (publication precedes the mutation's
   * return, so a few tens of milliseconds suffice on one machine).
   */
  async expectNoEvent(windowMs: number): Promise<void> {
    const before = this.results.length;
    const arrived = () => this.results.length > before;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        resolve();
      }, windowMs);
      const check = () => {
        if (!arrived()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        reject(new Error(`expected no event within ${windowMs} ms, got ${JSON.stringify(this.results.slice(before))}`));
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Ends the subscription (the feed unsubscribes from Redis); safe to call twice. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.end();
    await Promise.all(this.closers.map((close) => Promise.resolve(close()).catch(() => undefined)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GraphQLResult<Data>> {
    for (;;) {
      await this.waitFor(() => this.results.length > this.readCount || this.isEnded, Number.POSITIVE_INFINITY, () => 'a result');
      if (this.results.length === this.readCount) return;
      yield this.results[this.readCount++]!;
    }
  }

  /** @internal the runner's side */
  push(result: GraphQLResult<Data>): void {
    if (this.isEnded) return;
    this.results.push(result);
    this.notify();
  }

  /** @internal the last result (a refusal or a failure), then the end. */
  fail(result: GraphQLResult<Data>): void {
    this.push(result);
    this.end();
  }

  /** @internal */
  complete(): void {
    this.end();
  }

  /** @internal called on close() */
  onClose(close: () => unknown): void {
    this.closers.push(close);
  }

  private end(): void {
    this.isEnded = true;
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private waitFor(isReady: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    if (isReady()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            this.listeners.delete(check);
            reject(new Error(`No ${what()} within ${timeoutMs} ms; received so far: ${JSON.stringify(this.results.slice(this.readCount))}`));
          }, timeoutMs)
        : undefined;
      const check = () => {
        if (!isReady()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      this.listeners.add(check);
    });
  }
}
