// Whole responses held in this replica's memory too, in front of the Redis lookup: a hit costs no
// Redis command of its own, only a share of one PING (cache/invalidation-barrier.ts). Each entry
// keeps the dependencies its stored header names (cache/dependencies.ts: the entities and list
// scopes its loaders read, "<type key> <key id>[!]"), and is dropped when an invalidation message
// names one of them, exactly as Redis would no longer serve it: a change to only a type's
// volatile part ("Product! 5") drops the responses that read that product's volatile part ("5!"),
// a whole change ("Product 5") both.
//
// Why an entry is never older than an acknowledged write:
// - before a held entry is served, the barrier makes sure every invalidation acknowledged before
//   the request began has been heard (and has dropped what it names);
// - an entry is put here only if no invalidation message at all was heard since before Redis
//   checked (a hit) or recorded (a miss's loaders) its versions: a message heard in between could
//   be for it, and one that comes after it is in finds it in the index;
// - while the subscriber connection is away messages may be lost: everything is dropped, and
//   nothing is served or kept until the connection is back and subscribed again;
// - a database replaced under Redis (a reseed, a restore) is announced on the same connection, so
//   the barrier covers it too: everything is dropped when it is heard.
import { LRUCache } from 'lru-cache';
import type { RedisSubscriber } from '../redis/client';
import { parseHeader } from './dependencies';
import { InvalidationBarrier } from './invalidation-barrier';
import { InvalidationFollower } from './invalidation-follower';
import { parseInvalidationMessage } from './invalidation-message';

export interface ResponseL1Options {
  /** The connection that hears the cache's invalidation messages (shared with live queries). */
  subscriber: RedisSubscriber;
  channel: string;
  /** Where a database replacement (reseed, restore) is announced: everything held is dropped. @default none */
  databaseChangedChannel?: string;
  /** The cache types' keys by the names the messages use ("Product" → "Product.v1"). */
  typeKeys: ReadonlyMap<string, string>;
  /** Bytes held at once: bodies, and an estimate of each entry's bookkeeping and dependency names. */
  maxBytes: number;
  /** Longest an entry is held (the responses' TTL in Redis). */
  ttlMs: number;
  /** Longest wait for the barrier's PONG before reading Redis instead. @default 250 */
  barrierTimeoutMs?: number;
}

interface HeldResponse {
  body: Buffer;
  dependencies: readonly string[];
}

/** What an entry takes beyond its body (key, bookkeeping), and per dependency (its name, twice: entry and index): counted against maxBytes. */
const ENTRY_OVERHEAD_BYTES = 200;
const DEPENDENCY_BYTES = 100;

export class ResponseL1 {
  private readonly entries: LRUCache<string, HeldResponse>;
  /** Response keys by the dependency that drops them. */
  private readonly dependents = new Map<string, Set<string>>();
  private readonly barrier: InvalidationBarrier;
  private readonly follower: InvalidationFollower;
  /** Moves with every message heard and every flush: an entry read before one must not be kept. */
  private generation = 0;
  hits = 0;

  constructor(private readonly options: ResponseL1Options) {
    this.barrier = new InvalidationBarrier({ subscriber: options.subscriber, timeoutMs: options.barrierTimeoutMs });
    this.follower = new InvalidationFollower({ subscriber: options.subscriber, channel: options.channel, onMessage: this.onMessage, flush: () => this.flush() });
    this.entries = new LRUCache<string, HeldResponse>({
      maxSize: options.maxBytes,
      sizeCalculation: (held) => held.body.length + ENTRY_OVERHEAD_BYTES + held.dependencies.length * DEPENDENCY_BYTES,
      ttl: options.ttlMs,
      dispose: (held, key) => this.unindex(key, held.dependencies),
    });
  }

  start(): Promise<void> {
    return this.follower.start();
  }

  /** The channel stays subscribed: live queries share it, and the connection closes with the app. */
  stop(): void {
    this.follower.stop();
  }

  /** To pass to `keep` for a response whose versions are checked or read from now on. */
  currentGeneration(): number {
    return this.generation;
  }

  /** The held body of `key`, once it is known to be current; undefined: ask Redis. */
  async get(key: string): Promise<Buffer | undefined> {
    if (!this.follower.isLive || !this.entries.has(key)) return undefined;
    if (!(await this.barrier.wait())) return undefined;
    // Again: an invalidation heard while the barrier waited may have dropped it.
    const held = this.entries.get(key);
    if (held) this.hits += 1;
    return held?.body;
  }

  /**
   * Holds a response Redis served or stored, with its stored header's dependencies, unless a
   * message was heard since `readGeneration` (it may have been for this response).
   */
  keep(key: string, body: Buffer, header: string, readGeneration: number): void {
    if (!this.follower.isLive || readGeneration !== this.generation) return;
    const dependencies = dependenciesOf(header);
    if (dependencies.length === 0) return;
    this.entries.set(key, { body, dependencies });
    if (!this.entries.has(key)) return; // larger than the whole budget
    for (const dependency of dependencies) {
      let keys = this.dependents.get(dependency);
      if (!keys) this.dependents.set(dependency, (keys = new Set()));
      keys.add(key);
    }
  }

  flush(): void {
    this.generation += 1;
    this.entries.clear();
  }

  /** PINGs sent by the barrier (fewer than hits under load: one serves a turn's requests). */
  get barrierPings(): number {
    return this.barrier.pings;
  }

  private drop(dependency: string): void {
    const keys = this.dependents.get(dependency);
    if (!keys) return;
    for (const key of [...keys]) this.entries.delete(key);
  }

  private unindex(key: string, dependencies: readonly string[]): void {
    for (const dependency of dependencies) {
      const keys = this.dependents.get(dependency);
      keys?.delete(key);
      if (keys?.size === 0) this.dependents.delete(dependency);
    }
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel === this.options.databaseChangedChannel) return this.flush();
    if (channel !== this.options.channel) return;
    this.generation += 1;
    for (const { type, keyIds, part } of parseInvalidationMessage(message)) {
      const typeKey = this.options.typeKeys.get(type);
      // A type no loader of this replica reads: no response here depends on it.
      if (typeKey === undefined) continue;
      for (const keyId of keyIds) {
        this.drop(`${typeKey} ${keyId}!`);
        if (part !== 'volatile') this.drop(`${typeKey} ${keyId}`);
      }
    }
  };
}

/** The dependencies a stored header names, as "<type key> <key id>" (none when it is not a header). */
export function dependenciesOf(header: string): string[] {
  return (parseHeader(header) ?? []).flatMap(({ typeKey, keyIds }) => keyIds.map((keyId) => `${typeKey} ${keyId}`));
}
