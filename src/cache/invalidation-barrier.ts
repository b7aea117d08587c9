// Read-your-writes for in-process copies, across replicas. A write is acknowledged only after
// Redis ran its PUBLISH of the invalidation message (the event's publish script, or the mutation's
// own fallback). Redis answers one connection's commands in order, so a PING sent on this
// replica's subscriber connection after a request began is answered after every message published
// before the request began: once that PONG is in, every invalidation acknowledged before the
// request has been heard (ioredis emits the messages before it resolves the PING), and an
// in-process copy still held may be served as fresh as Redis itself would answer.
//
// One PING serves every request that arrived in the same turn of the event loop (they are sent
// from setImmediate, after the turn's requests were read), so under load a PING costs a fraction
// of a request; a request never uses a PING sent before it arrived. When no answer comes within
// `timeoutMs` (the connection is down or slow), the wait resolves false and the caller reads Redis.
import type { RedisSubscriber } from '../redis/client';

export interface InvalidationBarrierOptions {
  /** The connection that hears the invalidation messages (subscriber mode: only PING is sent on it). */
  subscriber: RedisSubscriber;
  /** Longest wait for the PONG before the caller reads Redis instead. @default 250 */
  timeoutMs?: number;
}

export class InvalidationBarrier {
  private readonly timeoutMs: number;
  /** The PING of the current turn, not sent yet: requests of this turn join it. */
  private next: Promise<boolean> | null = null;
  /** PINGs sent (for tests and metrics: one per turn, not one per request). */
  pings = 0;

  constructor(private readonly options: InvalidationBarrierOptions) {
    this.timeoutMs = options.timeoutMs ?? 250;
  }

  /** Resolves true once every invalidation published before this call has been heard, false if that cannot be told in time. */
  wait(): Promise<boolean> {
    this.next ??= new Promise<boolean>((resolve) => {
      setImmediate(() => {
        this.next = null;
        this.ping().then(resolve);
      });
    });
    return this.next;
  }

  private ping(): Promise<boolean> {
    const { subscriber } = this.options;
    if (subscriber.status !== 'ready') return Promise.resolve(false);
    this.pings += 1;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), this.timeoutMs);
      subscriber.ping().then(
        () => {
          clearTimeout(timer);
          resolve(true);
        },
        () => {
          clearTimeout(timer);
          resolve(false);
        },
      );
    });
  }
}
