// Readers that found another reader's lease wait for its value. However many requests of this
// replica wait, each cache type is polled by ONE script call per tick for all of them, so a burst
// on a cold key costs Redis a few calls, not one per waiter per tick (which starved the lease
// holder itself under load).
//
// A waiter only takes an answer from a poll sent after it started waiting: a value read before it
// arrived might predate a write acknowledged in between.

import type { Versions } from './cache-type';

export type WaitOutcome = { kind: 'value'; raw: string; versions: Versions } | { kind: 'retry' } | { kind: 'timeout' };

/** One entry as a poll found it: its value (with its key's versions), 0 (a live lease) or 1 (no value and no live lease). */
export type PeekReply = { value: string; versions: Versions } | 0 | 1;

export type Peek = (typeKey: string, hasVolatilePart: boolean, entries: Array<{ keyId: string; field: string }>) => Promise<PeekReply[]>;

interface Waiter {
  deadline: number;
  resolve(outcome: WaitOutcome): void;
}

interface WaitedEntry {
  keyId: string;
  field: string;
  waiters: Waiter[];
}

export class LeaseWaiters {
  private readonly byType = new Map<string, Map<string, WaitedEntry>>();
  private readonly hasVolatilePart = new Map<string, boolean>();
  private readonly polling = new Set<string>();

  constructor(
    private readonly peek: Peek,
    /** Time between polls of one type. */
    private readonly intervalMs = 5,
  ) {}

  wait(typeKey: string, hasVolatilePart: boolean, keyId: string, field: string, deadline: number): Promise<WaitOutcome> {
    if (Date.now() >= deadline) return Promise.resolve({ kind: 'timeout' });
    this.hasVolatilePart.set(typeKey, hasVolatilePart);
    return new Promise((resolve) => {
      let entries = this.byType.get(typeKey);
      if (!entries) this.byType.set(typeKey, (entries = new Map()));
      const id = `${keyId}\u0000${field}`;
      let entry = entries.get(id);
      if (!entry) entries.set(id, (entry = { keyId, field, waiters: [] }));
      entry.waiters.push({ deadline, resolve });
      if (!this.polling.has(typeKey)) {
        this.polling.add(typeKey);
        setTimeout(() => void this.poll(typeKey), this.intervalMs);
      }
    });
  }

  private async poll(typeKey: string): Promise<void> {
    const entries = this.byType.get(typeKey);
    if (!entries || entries.size === 0) {
      this.polling.delete(typeKey);
      return;
    }
    // Only the waiters present now get this poll's answers; later arrivals wait for the next one.
    const batch = [...entries.values()].map((entry) => ({ entry, waiters: [...entry.waiters] }));
    let replies: PeekReply[] | null;
    try {
      replies = await this.peek(typeKey, this.hasVolatilePart.get(typeKey) ?? false, batch.map(({ entry }) => entry));
    } catch {
      replies = null; // Redis trouble: send them back to the normal path, which fails open
    }
    const now = Date.now();
    batch.forEach(({ entry, waiters }, index) => {
      const reply = replies ? replies[index] : 1;
      const done = (outcome: WaitOutcome, waiter: Waiter) => {
        waiter.resolve(outcome);
        entry.waiters.splice(entry.waiters.indexOf(waiter), 1);
      };
      for (const waiter of waiters) {
        if (typeof reply === 'object') done({ kind: 'value', raw: reply.value, versions: reply.versions }, waiter);
        else if (reply === 1) done({ kind: 'retry' }, waiter);
        else if (now >= waiter.deadline) done({ kind: 'timeout' }, waiter);
      }
      if (entry.waiters.length === 0) entries.delete(`${entry.keyId}\u0000${entry.field}`);
    });
    setTimeout(() => void this.poll(typeKey), this.intervalMs);
  }
}
