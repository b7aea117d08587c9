// A mutation whose event is not published in time (the relay invalidates only when it publishes)
// invalidates its stale entries itself before it returns (events/event-writer.ts). During a Redis
// failover that invalidation can fail while reads of the same entries succeed: on a Cluster the
// cache's master is up, but a command to it times out while the client refreshes its slots. Had
// the mutation returned then, a read right after it would have been served the old value. So the
// invalidation is retried for a bound; if it is still unconfirmed then, the mutation returns (its
// write is committed) and this replica holds the entries: it reads them from Postgres, around the
// cache, and neither serves nor stores whole responses, while retrying in the background until an
// invalidation succeeds. Other replicas are covered once the relay publishes the event: it
// invalidates before it does (cache/invalidation.ts). All held invalidations are retried together,
// so a long outage with many mutations costs Redis one invalidation per backoff step.
import type { StaleEntries } from './invalidation';

export interface UnconfirmedInvalidationsOptions {
  /** The invalidation to confirm (cache/invalidation.ts `invalidate` on the cache's connection). */
  invalidate(entries: readonly StaleEntries[]): Promise<void>;
  /** First delay between attempts; it doubles up to `maxRetryDelayMs`. @default 25 */
  retryDelayMs?: number;
  /** @default 1000 */
  maxRetryDelayMs?: number;
  /** An invalidation was still unconfirmed after the bound: its entries are held. */
  onHeld?(entries: readonly StaleEntries[], error: unknown): void;
  /** A held invalidation was confirmed: its entries are cached again. */
  onConfirmed?(entries: readonly StaleEntries[]): void;
}

const heldKey = (type: string, keyId: string) => `${type} ${keyId}`;

export class UnconfirmedInvalidations {
  /** Holds per "<type key> <key id>" (two held invalidations may name one key). */
  private readonly held = new Map<string, number>();
  private readonly heldTypes = new Map<string, number>();
  /** Held invalidations, retried together: one call per attempt however many mutations are waiting (a long outage holds many). */
  private waiting: Array<readonly StaleEntries[]> = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private isStopped = false;

  constructor(private readonly options: UnconfirmedInvalidationsOptions) {}

  /**
   * Invalidates `entries`, retrying for up to `boundMs`; if that does not succeed, holds them and
   * retries in the background. Never rejects: the caller's write is committed either way.
   */
  async confirm(entries: readonly StaleEntries[], boundMs: number): Promise<void> {
    const deadline = Date.now() + boundMs;
    let delayMs = this.firstDelayMs;
    for (;;) {
      try {
        await this.options.invalidate(entries);
        return;
      } catch (error) {
        if (Date.now() + delayMs >= deadline || this.isStopped) {
          this.hold(entries, error);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = this.nextDelay(delayMs);
    }
  }

  /** Whether reads of this cache key must go around the cache. */
  isHeld(type: string, keyId: string): boolean {
    return this.held.size > 0 && this.held.has(heldKey(type, keyId));
  }

  /** Whether any key of this type is held (a fill of its rows is not written). */
  isTypeHeld(type: string): boolean {
    return this.heldTypes.has(type);
  }

  /** Whether anything is held: cached responses are then neither served nor stored. */
  get isAnyHeld(): boolean {
    return this.held.size > 0;
  }

  /** Stops the background retries (the process is stopping); held entries stay held. */
  stop(): void {
    this.isStopped = true;
    clearTimeout(this.retryTimer);
  }

  private get firstDelayMs(): number {
    return this.options.retryDelayMs ?? 25;
  }

  private nextDelay(delayMs: number): number {
    return Math.min(delayMs * 2, this.options.maxRetryDelayMs ?? 1000);
  }

  private hold(entries: readonly StaleEntries[], error: unknown): void {
    this.count(entries, 1);
    this.options.onHeld?.(entries, error);
    this.waiting.push(entries);
    this.scheduleRetry(this.firstDelayMs);
  }

  private scheduleRetry(delayMs: number): void {
    if (this.isStopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => void this.retryHeld(delayMs), delayMs);
    this.retryTimer.unref();
  }

  private async retryHeld(delayMs: number): Promise<void> {
    const batch = this.waiting;
    this.waiting = [];
    const entries = batch.flat();
    try {
      await this.options.invalidate(entries);
    } catch {
      this.waiting = [...batch, ...this.waiting];
      this.retryTimer = undefined;
      this.scheduleRetry(this.nextDelay(delayMs));
      return;
    }
    for (const held of batch) this.count(held, -1);
    this.options.onConfirmed?.(entries);
    this.retryTimer = undefined;
    if (this.waiting.length > 0) this.scheduleRetry(this.firstDelayMs);
  }

  private count(entries: readonly StaleEntries[], change: 1 | -1): void {
    const add = (map: Map<string, number>, key: string) => {
      const holds = (map.get(key) ?? 0) + change;
      if (holds > 0) map.set(key, holds);
      else map.delete(key);
    };
    for (const entry of entries) {
      for (const keyId of entry.keyIds) add(this.held, heldKey(entry.type, keyId));
      add(this.heldTypes, entry.type);
    }
  }
}
