// Per-operation GraphQL metrics, named after the envelop/Yoga Prometheus plugin
// (@envelop/prometheus: graphql_envelop_request_duration, graphql_envelop_error_result, with the
// labels `operationName` and `operationType`) under the prefix `streamgate_graphql_`, with
// Prometheus base units in the names (`_seconds`, `_total`). Every label is bounded
// (metric-labels.ts). The hot path (an HTTP request) looks its series up in a map of label
// children built once per bounded (type, name), so it allocates nothing and hashes no labels.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BoundedLabel, OperationNameLabel, UNKNOWN_OPERATION, errorCodeLabel } from './metric-labels';
import type { RequestUsage } from './request-usage';

export interface GraphQLMetricsOptions {
  registry: Registry;
  /** Trusted documents' texts: only their operation names become label values. @default none */
  trustedDocuments?: Iterable<string>;
  /** Without trusted documents, distinct operation names kept as labels (the rest: "other"). @default 100 */
  maxOperationNames?: number;
  /** The subscription root fields (the schema's); any other field is "other". */
  subscriptionFields: BoundedLabel;
}

/** An operation as resolved by GraphQL (name as in the document; null: anonymous). */
export interface OperationIdentity {
  operationName: string | null;
  operationType: 'query' | 'mutation' | 'subscription';
}

/** Counts a request per statement and round trip: a histogram of small integers. */
const COUNT_BUCKETS = [0, 1, 2, 3, 5, 8, 13, 21, 50, 100];
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface OperationSeries {
  operationName: string;
  operationType: string;
  duration: { observe(value: number): void };
  sqlStatements: { observe(value: number): void };
  redisRoundTrips: { observe(value: number): void };
}

export function createGraphQLMetrics(options: GraphQLMetricsOptions) {
  const registers = [options.registry];
  const operationNames = new OperationNameLabel({ trustedDocuments: options.trustedDocuments, maxNames: options.maxOperationNames ?? 100 });
  const errorCodes = errorCodeLabel();
  const labelNames = ['operationName', 'operationType'] as const;
  const duration = new Histogram({
    name: 'streamgate_graphql_request_duration_seconds',
    help: 'GraphQL HTTP requests from arrival to the last byte sent, answers from the response cache included (envelop: graphql_envelop_request_duration)',
    labelNames,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const sqlStatements = new Histogram({
    name: 'streamgate_graphql_request_sql_statements',
    help: "SQL statements of one GraphQL HTTP request's loaders (one per batch that reached Postgres)",
    labelNames,
    buckets: COUNT_BUCKETS,
    registers,
  });
  const redisRoundTrips = new Histogram({
    name: 'streamgate_graphql_request_redis_round_trips',
    help: 'Redis round trips the cache and the response cache made for one GraphQL HTTP request',
    labelNames,
    buckets: COUNT_BUCKETS,
    registers,
  });
  const errors = new Counter({
    name: 'streamgate_graphql_errors_total',
    help: 'Errors in GraphQL responses by extensions.code (envelop: graphql_envelop_error_result)',
    labelNames: [...labelNames, 'code'],
    registers,
  });
  const responseCacheHits = new Counter({
    name: 'streamgate_graphql_response_cache_hits_total',
    help: 'Queries answered from a cached response, by operation',
    labelNames: ['operationName'],
    registers,
  });
  const responseCacheMisses = new Counter({
    name: 'streamgate_graphql_response_cache_misses_total',
    help: 'Cacheable queries that executed (and stored their response), by operation',
    labelNames: ['operationName'],
    registers,
  });
  const subscriptions = new Gauge({
    name: 'streamgate_graphql_subscriptions_active',
    help: 'Subscriptions running on this replica over the websocket, by root field',
    labelNames: ['field'],
    registers,
  });

  const seriesByType = new Map<string, Map<string, OperationSeries>>();
  const seriesOf = (operation: OperationIdentity | undefined): OperationSeries => {
    const operationType = operation?.operationType ?? UNKNOWN_OPERATION;
    const operationName = operation ? operationNames.of(operation.operationName) : UNKNOWN_OPERATION;
    let byName = seriesByType.get(operationType);
    if (!byName) seriesByType.set(operationType, (byName = new Map()));
    let series = byName.get(operationName);
    if (!series) {
      const labels = { operationName, operationType };
      series = {
        operationName,
        operationType,
        duration: duration.labels(labels),
        sqlStatements: sqlStatements.labels(labels),
        redisRoundTrips: redisRoundTrips.labels(labels),
      };
      byName.set(operationName, series);
    }
    return series;
  };

  return {
    /**
     * One GraphQL HTTP request answered: its duration, and what it cost when it was executed or
     * answered from the response cache (`usage`; absent: refused before either).
     */
    observeRequest(operation: OperationIdentity | undefined, durationSeconds: number, usage: RequestUsage | undefined): void {
      const series = seriesOf(operation);
      series.duration.observe(durationSeconds);
      if (!usage) return;
      series.sqlStatements.observe(usage.sqlStatements);
      series.redisRoundTrips.observe(usage.redisRoundTrips);
    },
    /** The errors of one response, by their `extensions.code` (absent: INTERNAL_SERVER_ERROR, as formatError masks it). */
    countErrors(operation: OperationIdentity | undefined, codes: Iterable<unknown>): void {
      const { operationName, operationType } = seriesOf(operation);
      for (const code of codes) {
        errors.inc({ operationName, operationType, code: errorCodes.of(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR') });
      }
    },
    /** A cacheable query looked up in the response cache: answered from it (hit) or executed. */
    countResponseCache(operationName: string | null, isHit: boolean): void {
      (isHit ? responseCacheHits : responseCacheMisses).inc({ operationName: operationNames.of(operationName) });
    },
    /** A subscription started over the websocket (+1) or ended (-1), by its root field. */
    countSubscription(field: string, delta: 1 | -1): void {
      subscriptions.inc({ field: options.subscriptionFields.of(field) }, delta);
    },
  };
}

export type GraphQLMetrics = ReturnType<typeof createGraphQLMetrics>;
