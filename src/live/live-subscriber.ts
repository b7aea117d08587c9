// One client's view of a live query: the newest result it has not taken yet, and what it took
// last. A live query's newer result supersedes an older one, so a subscriber that reads slowly
// holds at most one result, never a queue, and is never sent a result equal to its previous one.
import type { ExecutionResult } from 'graphql';

export class LiveSubscriber {
  private pending?: ExecutionResult;
  private sentJson?: string;
  private pendingJson?: string;
  private wake?: () => void;
  private isDone = false;

  /** A new result of the query (its JSON computed once by the store for every subscriber). */
  offer(result: ExecutionResult, json: string): void {
    if (this.isDone) return;
    if (json === this.sentJson) {
      // Back to what this client has: an older pending result must not be sent after all.
      this.pending = undefined;
      return;
    }
    this.pending = result;
    this.pendingJson = json;
    this.wake?.();
  }

  /**
   * The iterator a transport reads (graphql-ws, SSE). Written by hand rather than as an async
   * generator: a generator's return() waits for a pending next(), so a client that leaves while
   * nothing changes would never be let go.
   */
  iterator(onReturn: () => void): AsyncIterableIterator<ExecutionResult> & { return(): Promise<IteratorResult<ExecutionResult>> } {
    const done = (): IteratorResult<ExecutionResult> => ({ done: true, value: undefined });
    const finish = async () => {
      if (!this.isDone) {
        this.isDone = true;
        this.wake?.();
        onReturn();
      }
      return done();
    };
    const take = (): Promise<IteratorResult<ExecutionResult>> => {
      if (this.isDone) return Promise.resolve(done());
      if (this.pending) {
        const value = this.pending;
        this.sentJson = this.pendingJson;
        this.pending = undefined;
        return Promise.resolve({ done: false, value });
      }
      return new Promise((resolve) => {
        this.wake = () => {
          this.wake = undefined;
          resolve(take());
        };
      });
    };
    return {
      next: take,
      return: finish,
      throw: finish,
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
