// What one GraphQL request cost in round trips, counted through the objects that belong to that
// request alone (its loaders' cache wrapper, the response-cache lookup made for it) rather than
// through AsyncLocalStorage, whose promise hooks cost more than the bookkeeping itself.
export interface RequestUsage {
  /** SQL statements the request's loaders sent (one per batch that reached Postgres). */
  sqlStatements: number;
  /** Redis round trips made for the request by the cache and the response cache. */
  redisRoundTrips: number;
}
