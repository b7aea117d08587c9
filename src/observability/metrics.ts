// Prometheus metrics at /metrics (prom-client). Hot-path code only bumps plain counters (the
// cache's CacheStats, the database's statement count); they are read here at scrape time. The
// per-operation GraphQL series (streamgate_graphql_*, named after the envelop Prometheus plugin)
// live in graphql-metrics.ts; the process-wide ones here keep their streamgate_* names.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GroupLag } from '../projections/group-lag';
import { CACHE_COUNTER_NAMES, type CacheStats } from './cache-counters';
import { createGraphQLMetrics } from './graphql-metrics';
import type { BoundedLabel } from './metric-labels';

export interface MetricsSources {
  cacheStats: CacheStats;
  sqlStatements(): number;
  outboxBacklog(): Promise<number>;
  /** Outbox rows the relay found already published (their marker existed) and skipped, since start. */
  outboxRowsSkipped(): number;
  /** Every consumer group of the domain streams (XINFO GROUPS); read once per scrape. */
  consumerGroupLags(): Promise<GroupLag[]>;
  subscriptions: { activeCount: number; queuedCount: number; slowConsumerCloses: number; eventsDelivered: number };
  /** heldHits: hits answered from this replica's memory (the response L1), counted in hits too; barrierPings: the PINGs that proved them current. */
  responseCache(): { hits: number; misses: number; storedBytes: number; heldHits: number; barrierPings: number };
  /** Live queries on this replica: distinct executions, and the clients they fan out to. */
  liveQueries: { queryCount: number; subscriberCount: number; executionCount: number };
  /** Made before the relay starts (createOutboxPublishLag), registered here. */
  outboxPublishLag: Histogram;
}

export interface MetricsOptions {
  /** The schema's subscription root fields (subscriptionFieldLabel). */
  subscriptionFields: BoundedLabel;
  /** Trusted documents' texts: their operation names are the only operationName values. @default none */
  trustedDocuments?: Iterable<string>;
  /** Without trusted documents, distinct operation names kept as label values; the rest are "other". @default 100 */
  maxOperationNames?: number;
}

/**
 * Seconds from an outbox row's commit (its created_at, the transaction's start on the database's
 * clock) to its publication, observed by the relay. Made unregistered, so the relay can record
 * into it before the registry exists; createMetrics registers it.
 */
export function createOutboxPublishLag(): Histogram {
  return new Histogram({
    name: 'streamgate_outbox_publish_lag_seconds',
    help: 'Time from an outbox row commit to its publication to Redis Streams',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [],
  });
}

export function createMetrics(sources: MetricsSources, options: MetricsOptions) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'streamgate_' });
  registry.registerMetric(sources.outboxPublishLag);
  const graphql = createGraphQLMetrics({ registry, ...options });
  /** The open websockets, once the server that owns them exists (watchWebsockets). */
  let websockets: { readonly size: number } | undefined;

  for (const counter of CACHE_COUNTER_NAMES) {
    const snake = counter.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    new Gauge({
      name: `streamgate_cache_${snake}_total`,
      help: `Cache ${counter}, by entry type`,
      labelNames: ['type'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [type, counters] of sources.cacheStats.byType) this.set({ type }, counters[counter]);
      },
    });
  }
  new Gauge({
    name: 'streamgate_cache_redis_round_trips_total',
    help: 'Redis round trips made by the cache',
    registers: [registry],
    collect() {
      this.set(sources.cacheStats.redisRoundTrips);
    },
  });
  new Gauge({
    name: 'streamgate_outbox_backlog',
    help: 'Outbox rows committed but not yet published to Redis',
    registers: [registry],
    async collect() {
      this.set(await sources.outboxBacklog());
    },
  });
  new Gauge({
    name: 'streamgate_outbox_rows_skipped_total',
    help: 'Outbox rows the relay skipped as already published (a relay that died before marking them; anything else deserves a look)',
    registers: [registry],
    collect() {
      this.set(sources.outboxRowsSkipped());
    },
  });
  // Both gauges come from one XINFO round trip per scrape (prom-client collects them together). A
  // scrape while Redis is unreachable shows no groups rather than failing.
  let groupsRead: Promise<GroupLag[]> | undefined;
  const readGroups = () =>
    (groupsRead ??= sources
      .consumerGroupLags()
      .catch(() => [])
      .finally(() => (groupsRead = undefined)));
  const groupGauges: Array<[string, string, (group: GroupLag) => number | null]> = [
    ['streamgate_consumer_group_lag', 'Stream entries not yet delivered to the consumer group (absent when Redis cannot tell)', (group) => group.lag],
    ['streamgate_consumer_group_pending', 'Stream entries delivered to a consumer of the group and not acknowledged yet', (group) => group.pending],
  ];
  for (const [name, help, read] of groupGauges) {
    new Gauge({
      name,
      help,
      labelNames: ['stream', 'group'],
      registers: [registry],
      async collect() {
        const groups = await readGroups();
        this.reset();
        for (const group of groups) {
          const value = read(group);
          if (value !== null) this.set({ stream: group.stream, group: group.group }, value);
        }
      },
    });
  }
  new Gauge({
    name: 'streamgate_sql_statements_total',
    help: 'SQL statements sent to the database',
    registers: [registry],
    collect() {
      this.set(sources.sqlStatements());
    },
  });
  const gauges: Array<[string, string, () => number]> = [
    ['streamgate_websocket_connections', 'Open websockets', () => websockets?.size ?? 0],
    ['streamgate_response_cache_hits_total', 'Queries answered from a cached response', () => sources.responseCache().hits],
    ['streamgate_response_cache_misses_total', 'Cacheable queries that executed (and stored their response)', () => sources.responseCache().misses],
    ['streamgate_response_cache_held_hits_total', 'Cached responses answered from this replica\'s memory (in-process copy), after a PING proved them current', () => sources.responseCache().heldHits],
    ['streamgate_response_cache_barrier_pings_total', 'PINGs sent to prove in-process copies current (one serves every request of an event-loop turn)', () => sources.responseCache().barrierPings],
    ['streamgate_response_cache_stored_bytes_total', 'Bytes of cached responses (keys and values) this replica wrote to Redis', () => sources.responseCache().storedBytes],
    ['streamgate_subscriptions_active', 'Subscriptions running on this replica', () => sources.subscriptions.activeCount],
    ['streamgate_live_queries', 'Distinct live queries executing on this replica', () => sources.liveQueries.queryCount],
    ['streamgate_live_query_subscribers', 'Clients of live queries on this replica', () => sources.liveQueries.subscriberCount],
    ['streamgate_live_query_executions_total', 'Executions of live queries (first results and re-executions) on this replica', () => sources.liveQueries.executionCount],
    ['streamgate_subscription_queued_events', 'Events queued for subscribers, not yet sent', () => sources.subscriptions.queuedCount],
    ['streamgate_subscription_events_delivered_total', 'Events handed to subscribers', () => sources.subscriptions.eventsDelivered],
    ['streamgate_subscription_slow_consumer_closes_total', 'Websockets closed for not reading their events', () => sources.subscriptions.slowConsumerCloses],
  ];
  for (const [name, help, read] of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
  // Process-wide totals; the per-request histograms (streamgate_graphql_request_sql_statements,
  // ..._redis_round_trips) count through each request's own loaders (observability/request-usage.ts).
  const operations = new Counter({ name: 'streamgate_http_operations_total', help: 'GraphQL HTTP requests served', registers: [registry] });
  const operationCosts = new Histogram({
    name: 'streamgate_operation_cost',
    help: 'Computed cost of GraphQL operations (HTTP and websocket), by outcome: admitted, too-costly, rate-limited',
    labelNames: ['outcome'],
    buckets: [10, 100, 1000, 5000, 20_000, 100_000, 1_000_000],
    registers: [registry],
  });
  const rejections = new Counter({
    name: 'streamgate_operations_rejected_total',
    help: 'Operations refused for their cost (cost), a spent cost budget (cost_budget) or an oversized response (response_size)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const documentsOutsideList = new Counter({
    name: 'streamgate_documents_outside_list_total',
    help: 'Operations whose document is not one of the trusted documents (GRAPHQL_TRUSTED_DOCUMENTS), by outcome: run (audit mode) or rejected (enforce mode), and transport',
    labelNames: ['outcome', 'transport'],
    registers: [registry],
  });

  return {
    registry,
    /** Per-operation GraphQL series (graphql-metrics.ts). */
    graphql,
    countOperation(): void {
      operations.inc();
    },
    /** An operation's computed cost; an uncountable one (Infinity) only counts as a rejection. */
    observeOperationCost(cost: number, outcome: 'admitted' | 'too-costly' | 'rate-limited'): void {
      if (Number.isFinite(cost)) operationCosts.observe({ outcome }, cost);
      if (outcome !== 'admitted') rejections.inc({ reason: outcome === 'too-costly' ? 'cost' : 'cost_budget' });
    },
    countOversizedResponse(): void {
      rejections.inc({ reason: 'response_size' });
    },
    /** An operation outside the trusted documents: run (audit) or rejected (enforce). */
    countDocumentOutsideList(outcome: 'run' | 'rejected', transport: 'http' | 'websocket'): void {
      documentsOutsideList.inc({ outcome, transport });
    },
    /** The set of open websockets, counted at scrape time; the server that owns it calls this once. */
    watchWebsockets(clients: { readonly size: number }): void {
      websockets = clients;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
