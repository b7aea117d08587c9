// The optional in-process L1: an LRU per replica in front of Redis, for the types configured.
//
// Staleness bound: an L1 entry is dropped when the invalidation message for it arrives over Redis
// pub/sub (published by the same script that deletes the Redis keys, so normally well under a
// millisecond after the write on a local network), and in any case after `ttlMs`. While this
// replica's subscriber connection is down it may miss messages, so L1 is flushed and bypassed
// until the connection is back. So a read may be stale by at most the pub/sub delivery delay,
// never by more than `ttlMs`.
import type { RedisSubscriber } from '../redis/client';
import { LRUCache } from 'lru-cache';
import { InvalidationFollower } from './invalidation-follower';
import { parseInvalidationMessage } from './invalidation-message';

export interface L1Options {
  /** A connection used only for subscribing (shared with the subscription pub/sub). */
  subscriber: RedisSubscriber;
  channel: string;
  /** Type names that use L1. */
  types: ReadonlySet<string>;
  /** @default 10000 */
  maxEntries?: number;
  /** Upper bound on an entry's age. @default 5000 */
  ttlMs?: number;
}

/** One Redis key's cached fields (an entity has one field; a list scope one per page). */
type Fields = Map<string, string>;

export class L1Cache {
  private readonly entries: LRUCache<string, Fields>;
  /** Bumped by every invalidation and flush: a fill that started before one must not land. */
  private generation = 0;
  /** Messages sent while the connection was away are lost: L1 is bypassed meanwhile, and comes back empty. */
  private readonly follower: InvalidationFollower;

  constructor(private readonly options: L1Options) {
    this.entries = new LRUCache({ max: options.maxEntries ?? 10_000, ttl: options.ttlMs ?? 5000 });
    this.follower = new InvalidationFollower({ subscriber: options.subscriber, channel: options.channel, onMessage: this.onMessage, flush: () => this.flush() });
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  async stop(): Promise<void> {
    const { subscriber, channel } = this.options;
    this.follower.stop();
    if (subscriber.status === 'ready') await subscriber.unsubscribe(channel).catch(() => undefined);
  }

  usesType(type: string): boolean {
    return this.follower.isLive && this.options.types.has(type);
  }

  /** The generation to pass to `set` for values read from now on. */
  currentGeneration(): number {
    return this.generation;
  }

  get(type: string, keyId: string, field: string): string | undefined {
    return this.entries.get(`${type}\u0000${keyId}`)?.get(field);
  }

  /** Stores a value read when the generation was `readGeneration`, unless an invalidation came since. */
  set(type: string, keyId: string, field: string, value: string, readGeneration: number): void {
    if (readGeneration !== this.generation || !this.usesType(type)) return;
    const key = `${type}\u0000${keyId}`;
    const fields = this.entries.get(key) ?? new Map<string, string>();
    fields.set(field, value);
    this.entries.set(key, fields);
  }

  /** Drops entries locally (the message from Redis will drop them again; that is harmless). */
  invalidate(type: string, keyIds: readonly string[]): void {
    this.generation += 1;
    for (const keyId of keyIds) this.entries.delete(`${type}\u0000${keyId}`);
  }

  flush(): void {
    this.generation += 1;
    this.entries.clear();
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.options.channel) return;
    // Entities are held whole: a change to only their volatile part drops them too.
    for (const { type, keyIds } of parseInvalidationMessage(message)) this.invalidate(type, keyIds);
  };
}
