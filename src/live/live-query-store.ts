// Live queries (`query @live`), one store per replica. A live query is executed once, with a
// recorder in its loaders (live-dependencies.ts) noting every cache key it read; the store indexes
// it under those keys and listens to the cache's invalidation messages, which the publish script
// sends to every replica after the write committed and its cache entries were deleted. A message
// naming a key a query read re-executes it, so a write on any replica refreshes live queries on
// all of them, and a re-execution reads fresh data. Nothing else re-executes it: an unrelated
// write sends nothing.
//
// Identical live queries (same canonical document, variables and viewer scope: the caller's key)
// share one execution on this replica and fan out to each subscriber. Re-executions are throttled
// per query: at most one starts per `throttleMs`, on the trailing edge, and a message that comes
// during one schedules another, so the last write of a burst is always reflected. A subscriber is
// sent a result only when it differs from the last one it got. The last subscriber leaving drops
// the query, its index entries and its timer.
//
// Why not @n1ru4l/in-memory-live-query-store: it invalidates by ids it collects from results
// ("Product:5"), in one process; here the dependencies are the cache keys the loaders read (list
// scopes included, which no result id names) and invalidations come from Redis, from every replica.
import type { ExecutionResult } from 'graphql';
import { parseInvalidationMessage } from '../cache/invalidation-message';
import type { RedisSubscriber } from '../redis/client';
import { watchSubscriberReconnects } from '../redis/subscriber-reconnects';
import type { LiveDependencies } from './live-dependencies';
import { LiveSubscriber } from './live-subscriber';

/** One execution of a live query: its result, and what it read. */
export interface LiveRun {
  result: ExecutionResult;
  dependencies: LiveDependencies;
}

export interface LiveQueryStoreOptions {
  /** A connection used only for subscribing (shared with L1 and the subscription pub/sub). */
  subscriber: RedisSubscriber;
  /** The cache invalidation channel (keys.cacheInvalidationChannel()). */
  channel: string;
  /** Cache type names by type key ("Product.v1" -> "Product"): invalidation messages name types by name. */
  typeNames: ReadonlyMap<string, string>;
  /** Least time between the starts of two executions of one live query. @default 100 */
  throttleMs?: number;
  /** Hears executions that threw (their subscribers keep the last result). @default none */
  onError?(error: unknown): void;
}

class LiveQuery {
  readonly subscribers = new Set<LiveSubscriber>();
  latest?: { result: ExecutionResult; json: string };
  /** The "<type name> <key id>[!]" entries it is indexed under ("!": it read the volatile part). */
  indexedUnder: string[] = [];
  timer?: NodeJS.Timeout;
  isRunning = false;
  /** Invalidated while running or waiting: run (again) when the window allows. */
  isDirty = false;
  lastStartMs = Number.NEGATIVE_INFINITY;
  /** Keys invalidated while an execution ran: it may have read one before the index knew it. */
  readonly invalidatedDuringRun = new Set<string>();

  constructor(
    readonly key: string,
    readonly run: () => Promise<LiveRun>,
    readonly throttleMs: number,
  ) {}
}

export class LiveQueryStore {
  /** Executions started since the store was made (tests and metrics read it). */
  executionCount = 0;
  private readonly throttleMs: number;
  private readonly queries = new Map<string, LiveQuery>();
  private readonly byKey = new Map<string, Set<LiveQuery>>();
  /** Queries whose last execution read something unrecorded: any invalidation re-executes them. */
  private readonly incomplete = new Set<LiveQuery>();
  private readonly running = new Set<LiveQuery>();
  private stopWatchingReconnects: () => void = () => undefined;

  constructor(private readonly options: LiveQueryStoreOptions) {
    this.throttleMs = options.throttleMs ?? 100;
  }

  async start(): Promise<void> {
    const { subscriber, channel } = this.options;
    subscriber.on('message', this.onMessage);
    // Messages sent while the connection was away are lost: every live query runs again once it is back.
    this.stopWatchingReconnects = watchSubscriberReconnects(subscriber, {
      onLost: () => undefined,
      onBack: () => this.refreshAll(),
    });
    await subscriber.subscribe(channel);
  }

  /** Ends every live query. The channel stays subscribed: L1 may share it, and the connection closes with the app. */
  stop(): void {
    this.options.subscriber.off('message', this.onMessage);
    this.stopWatchingReconnects();
    for (const query of [...this.queries.values()]) this.drop(query);
  }

  /** Executes every live query again (within its window): what they read may have changed unannounced. */
  refreshAll(): void {
    this.queries.forEach((query) => this.schedule(query));
  }

  /** Distinct live queries executing on this replica. */
  get queryCount(): number {
    return this.queries.size;
  }

  /** Clients of those queries (two identical live queries: one query, two subscribers). */
  get subscriberCount(): number {
    let count = 0;
    for (const query of this.queries.values()) count += query.subscribers.size;
    return count;
  }

  /**
   * The results of the live query `key` for one client: the current one at once, then each new
   * one. `run` executes it (fresh loaders recording into the dependencies it returns); a query
   * already live under `key` is joined, and its `run` used. `throttleMs` may only lengthen the window.
   */
  subscribe(key: string, run: () => Promise<LiveRun>, throttleMs = 0): AsyncIterableIterator<ExecutionResult> {
    let query = this.queries.get(key);
    if (!query) {
      query = new LiveQuery(key, run, Math.max(this.throttleMs, throttleMs));
      this.queries.set(key, query);
      this.schedule(query);
    }
    const subscriber = new LiveSubscriber();
    query.subscribers.add(subscriber);
    if (query.latest) subscriber.offer(query.latest.result, query.latest.json);
    const joined = query;
    return subscriber.iterator(() => {
      joined.subscribers.delete(subscriber);
      if (joined.subscribers.size === 0) this.drop(joined);
    });
  }

  private schedule(query: LiveQuery): void {
    if (this.queries.get(query.key) !== query) return;
    query.isDirty = true;
    if (query.isRunning || query.timer) return;
    const delayMs = Math.max(0, query.lastStartMs + query.throttleMs - Date.now());
    if (delayMs === 0) void this.execute(query);
    else query.timer = setTimeout(() => void this.execute(query), delayMs);
  }

  private async execute(query: LiveQuery): Promise<void> {
    query.timer = undefined;
    query.isDirty = false;
    query.isRunning = true;
    query.lastStartMs = Date.now();
    query.invalidatedDuringRun.clear();
    this.running.add(query);
    this.executionCount += 1;
    try {
      const { result, dependencies } = await query.run();
      if (this.queries.get(query.key) !== query) return;
      const readKeys = this.index(query, dependencies);
      // A key invalidated after this run read it, before the index knew the run read it.
      if (readKeys.some((key) => query.invalidatedDuringRun.has(key))) query.isDirty = true;
      if (dependencies.isIncomplete && query.invalidatedDuringRun.size > 0) query.isDirty = true;
      const json = JSON.stringify(result);
      if (json !== query.latest?.json) {
        query.latest = { result, json };
        for (const subscriber of query.subscribers) subscriber.offer(result, json);
      }
    } catch (error) {
      this.options.onError?.(error);
    } finally {
      query.isRunning = false;
      this.running.delete(query);
      if (query.isDirty) this.schedule(query);
    }
  }

  /** Indexes the query under what it read; returns those entries ("<type name> <key id>"). */
  private index(query: LiveQuery, dependencies: LiveDependencies): string[] {
    this.unindex(query);
    const entries: string[] = [];
    let isIncomplete = dependencies.isIncomplete;
    for (const read of dependencies.keys) {
      const [typeKey, keyId] = read.split(' ') as [string, string];
      const name = this.options.typeNames.get(typeKey);
      if (name === undefined) isIncomplete = true;
      else entries.push(`${name} ${keyId}`);
    }
    for (const entry of entries) {
      let queries = this.byKey.get(entry);
      if (!queries) this.byKey.set(entry, (queries = new Set()));
      queries.add(query);
    }
    query.indexedUnder = entries;
    if (isIncomplete) this.incomplete.add(query);
    return entries;
  }

  private unindex(query: LiveQuery): void {
    for (const entry of query.indexedUnder) {
      const queries = this.byKey.get(entry);
      queries?.delete(query);
      if (queries?.size === 0) this.byKey.delete(entry);
    }
    query.indexedUnder = [];
    this.incomplete.delete(query);
  }

  private drop(query: LiveQuery): void {
    if (this.queries.get(query.key) === query) this.queries.delete(query.key);
    clearTimeout(query.timer);
    query.timer = undefined;
    this.unindex(query);
    query.subscribers.clear();
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.options.channel) return;
    const affected = new Set(this.incomplete);
    for (const { type: name, keyIds, part } of parseInvalidationMessage(message)) {
      for (const keyId of keyIds) {
        // Queries that read the volatile part are indexed under "<id>!": any change concerns them.
        for (const entry of part === 'volatile' ? [`${name} ${keyId}!`] : [`${name} ${keyId}`, `${name} ${keyId}!`]) {
          for (const query of this.byKey.get(entry) ?? []) affected.add(query);
          for (const query of this.running) query.invalidatedDuringRun.add(entry);
        }
      }
    }
    // After every line: a query runs once for the whole write.
    for (const query of affected) this.schedule(query);
  };
}
