// Per-operation counters carried by AsyncLocalStorage: the HTTP handler runs each request inside a
// fresh record, and the database client and the cache add to whatever record is current. DataLoader
// batches run in the async context of the request that scheduled them, so they count correctly.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface OperationStats {
  sqlStatements: number;
  redisRoundTrips: number;
}

const storage = new AsyncLocalStorage<OperationStats>();

export function runWithOperationStats<T>(stats: OperationStats, work: () => T): T {
  return storage.run(stats, work);
}

/** The record of the operation in progress, if any. */
export function currentOperationStats(): OperationStats | undefined {
  return storage.getStore();
}
