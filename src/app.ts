// Composition root: connects Redis and the database, migrates (and seeds an empty embedded
// database), wires the cache, builds the schema and the HTTP/websocket server. Returns listen/stop
// for main.ts and for tests, which pass their own database and Redis URL.
import type { GraphQLSchema } from 'graphql';
import type { RedisClient } from './redis/client';
import type { Config } from './config';
import { describeError } from './errors';
import type { Database } from './db/client';
import { openMigratedDatabase } from './process';
import { createLoginLimiter } from './auth/login-limiter';
import { createSessionStore } from './auth/session.store';
import type { SubscriberSocket } from './subscriptions/subscription-feeds';
import type { RequestInfo } from './auth/viewer';
import { createCacheStore, RequestScopedCache, type CacheStore } from './cache/cache-store';
import { createEventWriter } from './events/event-writer';
import { PublishWaiters } from './events/publish-waiters';
import { OutboxRelay } from './events/relay';
import { DatabaseIdentity } from './events/database-identity';
import { cursorExpired } from './subscriptions/stream-replay';
import { L1Cache } from './cache/l1';
import { cacheTypeKey } from './cache/cache-type';
import { LiveQueryStore } from './live/live-query-store';
import { ResponseCache } from './cache/response-cache';
import { announceInvalidation, invalidate } from './cache/invalidation';
import { ResponseL1 } from './cache/response-l1';
import { UnconfirmedInvalidations } from './cache/unconfirmed-invalidations';
import { authenticate, type Authentication } from './http/auth-header';
import type { GatewayServer, GatewayServerOptions } from './http/server';
import { createGraphQLCore, type GraphQLCore } from './http/graphql-core';
import { RedisPersistedQueryCache } from './http/trusted-documents-apq-cache';
import { closeSlowConsumer } from './http/close-codes';
import { createCostBudget } from './http/cost-budget';
import { costSubject } from './auth/viewer';
import { createLogger, type Logger } from './logger';
import { assertKnownCacheTypes, createLoaders, createServices, loaderCacheTypes, registerModules, type GatewayContext, type GatewayModule } from './modules/context';
import { buildGatewaySchema } from './modules/schema';
import { CacheStats } from './observability/cache-counters';
import { createMetrics, createOutboxPublishLag } from './observability/metrics';
import { subscriptionFieldLabel } from './observability/metric-labels';
import { connectRedis, connectRedisConnections, evictingMemoryPolicy, type RedisConnections } from './redis/connection';
import { disconnectRedis } from './redis/reopen-ended';
import { readGroupLags } from './projections/group-lag';
import { startProjectionWorker } from './projections/projection-worker';
import type { RedisKeys } from './redis/keys';
import { defineCacheScripts, defineEventScripts } from './redis/scripts';
import { createRedisPubSub } from './subscriptions/pubsub';
import { SubscriptionFeeds } from './subscriptions/subscription-feeds';
import { SessionRevocations } from './auth/session-revocations';

export interface AppOptions {
  config: Config;
  /** An open database to use instead of the one the config names (tests); the app closes it on stop. */
  database?: Database;
  logger?: Logger;
  /** Fault injection for tests: runs after a mutation's commit, before its event is published. */
  afterCommit?: () => void;
  /**
   * Run the projections (notifications, top products) in this process. For the embedded PGlite,
   * which no separate worker process can open; with PostgreSQL run `npm run worker` instead.
   */
  runProjections?: boolean;
  /** Modules a team adds (docs/extending.md): their resolvers, loaders, services, migrations, events. @default [] */
  modules?: readonly GatewayModule[];
  /**
   * Build the HTTP face (Fastify, graphql-ws, SSE, the playground). The test kit runs operations
   * through the GraphQL core alone, and then does not even load that code. @default true
   */
  http?: boolean;
}

export interface App {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  /** The command connection (sessions, publishing). */
  readonly redis: RedisClient;
  readonly redisConnections: RedisConnections;
  /** Redis keys, with the database identity in force. */
  readonly keys: RedisKeys;
  /** The identity of the database: every key derived from the data carries it. */
  readonly identity: DatabaseIdentity;
  readonly cache: CacheStore;
  readonly cacheStats: CacheStats;
  /** Whole responses of repeated queries; absent when off (config, or an L1 in use). */
  readonly responseCache?: ResponseCache;
  /** Live queries (`query @live`) running on this replica. */
  readonly liveQueries: LiveQueryStore;
  readonly relay: OutboxRelay;
  /** Apollo Server and the subscription core, which every transport (and the test kit) runs operations through. */
  readonly graphql: GraphQLCore<GatewayContext>;
  /** The HTTP face; undefined when built with `http: false`. */
  readonly server: GatewayServer<GatewayContext> | undefined;
  /** The executable schema, added modules included (the test kit runs subscriptions on it). */
  readonly schema: GraphQLSchema;
  /** Resolves an Authorization value the way HTTP requests and websockets do. */
  authenticate(authorization: unknown): Promise<Authentication>;
  /** A fresh per-operation context (for `graphql.apollo.executeOperation` in tests). */
  createContext(authentication: Authentication, request: RequestInfo): GatewayContext;
  /** Listens on config HOST/PORT; resolves to the GraphQL URL. */
  listen(): Promise<string>;
  /** Stops accepting, closes sockets (1001) and connections. Safe to call twice. */
  stop(): Promise<void>;
}

/** Builds every part; throws RedisUnreachableError or DatabaseUnreachableError when those do not answer. */
export async function createApp({
  config,
  database: givenDatabase,
  logger = createLogger(config.LOG_LEVEL),
  afterCommit,
  runProjections = false,
  modules = [],
  http = true,
}: AppOptions): Promise<App> {
  const cacheTypes = [...loaderCacheTypes, ...modules.flatMap((module) => module.cacheTypes ?? [])];
  assertKnownCacheTypes(config, cacheTypes);
  registerModules(modules);
  // Sentinel and Cluster promote a replica when a master dies, which may lack its last writes.
  const isRedisReplicated = config.redisTarget.kind !== 'standalone';
  const connections = await connectRedisConnections({
    target: config.redisTarget,
    cacheTarget: config.redisCacheTarget,
    connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS,
    cacheTimeoutMs: config.CACHE_TIMEOUT_MS,
  });
  let database: Database;
  try {
    database = await openMigratedDatabase({
      config,
      logger,
      database: givenDatabase,
      isSeedingAllowed: true,
      unreachableHint: 'Start PostgreSQL there, fix DATABASE_URL, or unset it to use the embedded PGlite database.',
    });
  } catch (error) {
    await connections.close();
    throw error;
  }
  try {
    // After the gateway's own (a module's tables may reference them), each in its own journal table.
    for (const module of modules) {
      if (module.migrationsFolder) await database.migrate({ folder: module.migrationsFolder, table: `__drizzle_migrations_${module.name}` });
    }
  } catch (error) {
    await connections.close();
    await database.close();
    throw error;
  }
  const logLost = (role: string) => (error: Error) => logger.warn({ role, reason: describeError(error) }, 'Redis connection lost; reconnecting');
  connections.command.on('error', logLost('command'));
  connections.subscriber.on('error', logLost('subscriber'));
  connections.cache.on('error', logLost('cache'));
  const evictingPolicy = await evictingMemoryPolicy(connections.command);
  if (evictingPolicy) {
    logger.warn(
      { maxmemoryPolicy: evictingPolicy },
      'the durable Redis (REDIS_URL or REDIS_SENTINELS) evicts keys under memory pressure: sessions, events and published markers can be lost. Give it noeviction, and put the cache on REDIS_CACHE_URL (or REDIS_CACHE_SENTINELS)',
    );
  }

  // Everything Redis derives from the database is bound to its identity; a change (reseed,
  // restore) is handled by onDatabaseReplaced below, once the parts it touches exist.
  let onDatabaseReplaced = () => undefined as void;
  const identity = new DatabaseIdentity({
    database,
    redis: defineEventScripts(connections.command),
    derivedStateConnections: connections.isCacheSeparate ? [connections.command, connections.cache] : [connections.command],
    subscriber: connections.subscriber,
    prefix: config.REDIS_PREFIX,
    logger,
    streamMaxLength: config.EVENT_STREAM_MAXLEN,
    pollIntervalMs: database.kind === 'postgres' ? config.DATABASE_IDENTITY_CHECK_MS : 0,
    onChange: () => onDatabaseReplaced(),
  });
  try {
    await identity.start();
  } catch (error) {
    await identity.stop();
    await connections.close();
    await database.close();
    throw error;
  }
  const keys = identity.keys;
  const cacheStats = new CacheStats();
  const l1 =
    config.CACHE_L1_TYPES.size > 0
      ? new L1Cache({
          subscriber: connections.subscriber,
          channel: keys.cacheInvalidationChannel(),
          types: config.CACHE_L1_TYPES,
          maxEntries: config.CACHE_L1_MAX_ENTRIES,
          ttlMs: config.CACHE_L1_TTL_MS,
        })
      : undefined;
  await l1?.start();
  // The cache scripts, registered once on the cache's connection (the store, the relay, the response cache).
  const cacheScripts = defineCacheScripts(connections.cache);
  const unconfirmed = new UnconfirmedInvalidations({
    invalidate: async (entries) => {
      await invalidate(cacheScripts, keys, entries);
      await announceInvalidation(connections.command, keys, entries);
    },
    onHeld: (entries, error) =>
      logger.warn({ reason: describeError(error), entries }, 'cannot invalidate the entries of an unpublished event; reading them from Postgres until an invalidation succeeds'),
    onConfirmed: (entries) => logger.info({ entries }, 'the held entries of an unpublished event are invalidated; cached again'),
  });
  const cache = createCacheStore({
    redis: cacheScripts,
    keys,
    stats: cacheStats,
    l1,
    unconfirmed,
    isEnabled: config.CACHE_ENABLED,
    ttlMs: config.CACHE_TTL_SECONDS * 1000,
    ttlMsByType: new Map([...config.CACHE_TYPE_TTL_SECONDS].map(([type, seconds]) => [type, seconds * 1000])),
    negativeTtlMs: config.CACHE_NEGATIVE_TTL_SECONDS * 1000,
    leaseTtlMs: config.CACHE_LEASE_TTL_MS,
    leaseWaitMs: config.CACHE_LEASE_WAIT_MS,
    onError: (error) => logger.debug({ reason: describeError(error) }, 'cache unavailable; reading Postgres'),
  });

  const outboxPublishLag = createOutboxPublishLag();
  const relay = new OutboxRelay({
    database,
    redis: defineEventScripts(connections.command),
    cache: cacheScripts,
    keys,
    identity,
    logger,
    batchSize: config.OUTBOX_BATCH_SIZE,
    streamMaxLength: config.EVENT_STREAM_MAXLEN,
    retentionHours: config.OUTBOX_RETENTION_HOURS,
    // Only a failover (a replica promoted) loses acknowledged writes by design; a standalone Redis
    // restarted without persistence lost everything, which the re-check is not meant to rebuild.
    failoverRecheckWindowMs: isRedisReplicated ? config.OUTBOX_RECHECK_WINDOW_SECONDS * 1000 : 0,
    idempotencyHours: config.IDEMPOTENCY_TTL_HOURS,
    onPublished: (committedAt) => outboxPublishLag.observe(Math.max(0, Date.now() - committedAt.getTime()) / 1000),
  });
  const publishWaiters = new PublishWaiters(connections.subscriber, keys.outboxPublishedChannel());
  await publishWaiters.start();
  await relay.start();
  const events = createEventWriter({
    database,
    waiters: publishWaiters,
    announceCommitted: (rows) => rows.forEach((row) => relay.announce(row)),
    publishWaitMs: config.OUTBOX_PUBLISH_WAIT_MS,
    onDatabaseSeen: (seen) => seen !== identity.current && void identity.check().catch(() => undefined),
    onPublishTimeout: (row) => logger.warn(row, 'event not published in time; the mutation returns anyway and the relay keeps trying'),
    invalidateUnpublished: (entries) => unconfirmed.confirm(entries, config.OUTBOX_PUBLISH_WAIT_MS),
    afterCommit,
  });

  const blockingConnections: RedisClient[] = [];
  const projections = runProjections
    ? await startProjectionWorker({
        db: database.db,
        redis: connections.command,
        openBlockingConnection: async (group) => {
          const connection = await connectRedis({ target: config.redisTarget, connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS, connectionName: `streamgate:projection:${group}` });
          blockingConnections.push(connection);
          return connection;
        },
        keys,
        logger,
        groups: config.WORKER_GROUPS,
        consumer: `gateway-${process.pid}`,
        currentDatabase: () => identity.current,
      })
    : undefined;

  const sessions = createSessionStore({ redis: connections.command, keys, ttlSeconds: config.SESSION_TTL_SECONDS });
  const loginLimiter = createLoginLimiter({
    redis: connections.command,
    keys,
    maxFailures: config.LOGIN_MAX_FAILURES,
    windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
    maxAccountFailures: config.LOGIN_ACCOUNT_MAX_FAILURES,
    accountWindowSeconds: config.LOGIN_ACCOUNT_WINDOW_SECONDS,
    knownAddressTtlSeconds: config.LOGIN_KNOWN_ADDRESS_TTL_SECONDS,
  });
  // One budget per viewer (or address) for query cost and replayed stream entries alike.
  const costBudget =
    config.GRAPHQL_COST_BUDGET > 0
      ? createCostBudget({
          redis: connections.command,
          keyPrefix: keys.costBudget(),
          points: config.GRAPHQL_COST_BUDGET,
          windowSeconds: config.GRAPHQL_COST_BUDGET_WINDOW_SECONDS,
          timeoutMs: config.CACHE_TIMEOUT_MS,
          onError: (error) => logger.warn({ reason: describeError(error) }, 'cost budget unavailable; operation admitted'),
        })
      : undefined;
  const subscriptions = new SubscriptionFeeds({
    pubSub: createRedisPubSub({ publisher: connections.command, subscriber: connections.subscriber }),
    subscriber: connections.subscriber,
    redis: connections.command,
    keys,
    currentDatabase: () => identity.current,
    maxReplayEntries: config.SUBSCRIPTION_REPLAY_LIMIT,
    replayBudgetEntries: config.SUBSCRIPTION_REPLAY_BUDGET,
    replayBudgetWindowMs: config.SUBSCRIPTION_REPLAY_BUDGET_WINDOW_SECONDS * 1000,
    replayBudgetOfClient: costBudget && { admit: (subject) => costBudget.spend(subject, 1), charge: (subject, entries) => costBudget.charge(subject, entries) },
    maxQueuedEvents: config.SUBSCRIPTION_MAX_QUEUED_EVENTS,
    // On Sentinel the relay publishes events a failover lost again (under the same ids): worth waiting for.
    lostDataAttempts: isRedisReplicated ? 10 : 1,
    onSlowConsumer: closeSlowConsumer,
    onError: (error) => logger.warn({ reason: describeError(error) }, 'subscriptions: Redis unreachable'),
  });
  subscriptions.start();
  const services = createServices({ db: database.db, events, sessions, loginLimiter, redis: connections.command, keys, cache, subscriptions }, modules);
  const schema = await buildGatewaySchema(modules);
  // An L1 may be stale for a moment; a cached response would keep that longer, so not both.
  const isResponseCacheOn = config.CACHE_ENABLED && config.CACHE_RESPONSES && !l1;
  // Not on a Redis Cluster: there the messages travel by sharded pub/sub on connections that follow
  // slot moves and failovers on their own, and a PING's order against them is not established.
  const responseL1 =
    isResponseCacheOn && config.CACHE_RESPONSE_L1_MAX_BYTES > 0 && config.redisTarget.kind !== 'cluster'
      ? new ResponseL1({
          subscriber: connections.subscriber,
          channel: keys.cacheInvalidationChannel(),
          databaseChangedChannel: keys.databaseChangedChannel(),
          typeKeys: new Map(cacheTypes.map((type) => [type.name, cacheTypeKey(type)])),
          maxBytes: config.CACHE_RESPONSE_L1_MAX_BYTES,
          ttlMs: config.CACHE_RESPONSE_TTL_SECONDS * 1000,
          barrierTimeoutMs: config.CACHE_TIMEOUT_MS,
        })
      : undefined;
  await responseL1?.start();
  const responseCache = isResponseCacheOn
      ? new ResponseCache({
          redis: cacheScripts,
          keys,
          types: cacheTypes,
          ttlMs: config.CACHE_RESPONSE_TTL_SECONDS * 1000,
          maxResponseBytes: config.CACHE_RESPONSE_MAX_BYTES,
          budgetBytes: config.CACHE_RESPONSE_BUDGET_BYTES,
          clientBudgetBytes: config.CACHE_RESPONSE_CLIENT_BUDGET_BYTES,
          isSuspended: () => unconfirmed.isAnyHeld,
          l1: responseL1,
          countRoundTrip: () => void (cacheStats.redisRoundTrips += 1),
          onError: (error) => logger.debug({ reason: describeError(error) }, 'response cache unavailable'),
        })
      : undefined;
  // Hears the cache's invalidation messages as the L1 does (same channel, same subscriber connection).
  const liveQueries = new LiveQueryStore({
    subscriber: connections.subscriber,
    channel: keys.cacheInvalidationChannel(),
    typeNames: new Map(cacheTypes.map((type) => [cacheTypeKey(type), type.name])),
    throttleMs: config.LIVE_QUERY_THROTTLE_MS,
    onError: (error) => logger.error({ reason: describeError(error) }, 'live query execution failed'),
  });
  await liveQueries.start();

  const metrics = createMetrics({
    cacheStats,
    sqlStatements: () => database.sqlStats.statements,
    outboxBacklog: () => relay.backlog(),
    outboxRowsSkipped: () => relay.skippedRows,
    consumerGroupLags: () => readGroupLags(connections.command, keys),
    subscriptions,
    responseCache: () => ({
      hits: responseCache?.hits ?? 0,
      misses: responseCache?.misses ?? 0,
      storedBytes: responseCache?.storedBytes ?? 0,
      heldHits: responseL1?.hits ?? 0,
      barrierPings: responseL1?.barrierPings ?? 0,
    }),
    liveQueries,
    outboxPublishLag,
  }, {
    subscriptionFields: subscriptionFieldLabel(schema),
    trustedDocuments: config.GRAPHQL_TRUSTED_DOCUMENTS ? config.GRAPHQL_TRUSTED_DOCUMENTS.values() : undefined,
  });
  const createContext = (authentication: Authentication, request: RequestInfo, socket?: SubscriberSocket): GatewayContext => ({
    ...request,
    ...authentication,
    loaders: createLoaders(database.db, request.dependencies || request.usage ? new RequestScopedCache(cache, request.dependencies, request.usage) : cache, modules),
    services,
    socket,
  });
  const authenticateRequest = (authorization: unknown) => authenticate(sessions, authorization);

  const serverOptions: GatewayServerOptions<GatewayContext> = {
    schema,
    logger,
    limits: {
      maxDepth: config.GRAPHQL_MAX_DEPTH,
      maxCost: config.GRAPHQL_MAX_COST,
      maxAliases: config.GRAPHQL_MAX_ALIASES,
      maxTokens: config.GRAPHQL_MAX_TOKENS,
      maxResponseBytes: config.GRAPHQL_MAX_RESPONSE_BYTES,
    },
    isIntrospectionEnabled: config.GRAPHQL_INTROSPECTION,
    isPlaygroundEnabled: config.GRAPHQL_PLAYGROUND,
    isDevelopment: config.NODE_ENV === 'development',
    isOperatorDataPublic: !config.isProduction,
    metricsPort: config.METRICS_PORT,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    readinessChecks: [
      { name: 'redis', check: async () => void (await connections.command.ping()) },
      { name: 'database', check: () => database.ping() },
    ],
    readinessDetails: async () => ({ outboxBacklog: await relay.backlog(), isRelayLeader: relay.isLeader }),
    metrics,
    responseCache,
    liveQueries,
    websocketLimits: {
      maxConnections: config.WS_MAX_CONNECTIONS,
      maxSubscriptionsPerConnection: config.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
      sessionCheckIntervalMs: config.WS_SESSION_CHECK_SECONDS * 1000,
      initTimeoutMs: config.WS_INIT_TIMEOUT_MS,
    },
    sseHeartbeatIntervalMs: config.SSE_HEARTBEAT_SECONDS * 1000,
    authenticate: authenticateRequest,
    createContext,
    costBudget,
    costSubjectOf: (context) => costSubject(context.viewer, context.clientAddress),
    trustedDocuments: config.GRAPHQL_TRUSTED_DOCUMENTS && { list: config.GRAPHQL_TRUSTED_DOCUMENTS, mode: config.GRAPHQL_TRUSTED_DOCUMENTS_MODE },
    // On the cache role: registrations are rebuilt by clients, so they may be evicted.
    persistedQueryCache: new RedisPersistedQueryCache(connections.cache, keys),
  };
  const graphql = await createGraphQLCore<GatewayContext>(serverOptions);
  let server: GatewayServer<GatewayContext> | undefined;
  if (http) {
    // Required only here: an app built without its HTTP face (the test kit) does not load Fastify,
    // ws and graphql-ws at all.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when wanted
    const { createGatewayServer } = require('./http/server') as typeof import('./http/server');
    server = await createGatewayServer<GatewayContext>(serverOptions, graphql);
  }
  const revocations = new SessionRevocations({
    subscriber: connections.subscriber,
    channel: keys.sessionRevocationsChannel(),
    onRevoked: (revocation) => server?.websocket.sessions.closeRevoked(revocation),
    onResync: () => void server?.websocket.sessions.recheckAll(),
  });
  await revocations.start();
  // What clients hold of the old database ends: subscriptions (refetch), sockets' sessions, L1;
  // live queries execute again.
  onDatabaseReplaced = () => {
    l1?.flush();
    responseL1?.flush();
    subscriptions.failAll(cursorExpired('the database was replaced'));
    liveQueries.refreshAll();
    void server?.websocket.sessions.recheckAll();
  };

  let stopping: Promise<void> | undefined;
  return {
    config,
    logger,
    database,
    redis: connections.command,
    redisConnections: connections,
    keys,
    identity,
    cache,
    cacheStats,
    responseCache,
    liveQueries,
    relay,
    graphql,
    server,
    schema,
    authenticate: authenticateRequest,
    createContext,
    listen: async () => {
      if (!server) throw new Error('This app was built without its HTTP face (http: false): it cannot listen.');
      return server.listen(config.PORT, config.HOST);
    },
    stop: () =>
      (stopping ??= (async () => {
        await server?.close();
        await graphql.apollo.stop();
        liveQueries.stop();
        responseL1?.stop();
        await identity.stop();
        revocations.stop();
        subscriptions.stop();
        await relay.stop();
        unconfirmed.stop();
        await projections?.stop();
        for (const connection of blockingConnections) disconnectRedis(connection);
        await publishWaiters.stop();
        await l1?.stop();
        await connections.close();
        await database.close();
      })()),
  };
}
