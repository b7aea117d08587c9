// What the cache did, per entity type, as plain counters (cheap on the hot path); /metrics reads
// them at scrape time.
export const CACHE_COUNTER_NAMES = [
  'hits',
  'misses',
  'l1Hits',
  'leaseWaits',
  'leaseWaitTimeouts',
  'failOpens',
  'writeBacks',
  'writeBacksDropped',
  'invalidations',
] as const;

export type CacheCounterName = (typeof CACHE_COUNTER_NAMES)[number];
export type CacheCounters = Record<CacheCounterName, number>;

export class CacheStats {
  readonly byType = new Map<string, CacheCounters>();
  redisRoundTrips = 0;

  add(type: string, counter: CacheCounterName, amount = 1): void {
    let counters = this.byType.get(type);
    if (!counters) {
      counters = Object.fromEntries(CACHE_COUNTER_NAMES.map((name) => [name, 0])) as CacheCounters;
      this.byType.set(type, counters);
    }
    counters[counter] += amount;
  }

  /** Sum over all types (tests and the benchmark read these). */
  total(counter: CacheCounterName): number {
    let sum = 0;
    for (const counters of this.byType.values()) sum += counters[counter];
    return sum;
  }
}
