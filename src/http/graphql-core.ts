// The gateway's GraphQL, apart from any transport: Apollo Server with the gateway's validation
// rules, cost gate, error masking and logging; the subscription core every subscription transport
// wraps; the persisted documents and the cacheable-query decisions the HTTP face reads. The HTTP
// face (server.ts: Fastify, graphql-ws, SSE, the playground) is built on it; the test kit uses it
// alone (Apollo's executeOperation and the subscription core), without loading the HTTP stack.
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { Logger } from '../logger';
import type { Metrics } from '../observability/metrics';
import type { RequestInfo } from '../auth/viewer';
import type { SubscriberSocket } from '../subscriptions/subscription-feeds';
import type { LiveQueryStore } from '../live/live-query-store';
import type { ResponseCache } from '../cache/response-cache';
import type { RequestUsage } from '../observability/request-usage';
import { loggableError } from '../loggable-error';
import type { Authentication } from './auth-header';
import { createErrorFormatter, isClientSafe } from './format-error';
import { createValidationRules, type OperationLimits } from './limits';
import { costGatePlugin, createCostGate } from './cost';
import type { CostBudget } from './cost-budget';
import { createSubscriptionCore } from './subscription-core';
import { createLiveOperations } from './live-operations';
import type { TrustedDocumentList } from './trusted-documents-file';
import { outsideListReporter, PersistedDocuments, type TrustedDocumentsMode } from './trusted-documents';
import { apolloPersistedQueryCache, type RedisPersistedQueryCache } from './trusted-documents-apq-cache';
import { CacheableQueries } from './cacheable-query';
import { requestMetricsApolloPlugin } from './request-metrics';

export interface GraphQLCoreOptions<Context extends BaseContext> {
  schema: GraphQLSchema;
  logger: Logger;
  limits: OperationLimits;
  isIntrospectionEnabled: boolean;
  /** Stack traces in error responses (development only). */
  isDevelopment: boolean;
  metrics: Metrics;
  /** Keeps `query @live` operations over graphql-ws and SSE up to date (absent: @live is ignored). */
  liveQueries?: LiveQueryStore;
  /** Answers repeated cacheable queries without executing them (absent: every request executes). */
  responseCache?: ResponseCache;
  createContext(authentication: Authentication, request: RequestInfo, socket?: SubscriberSocket): Context;
  /** Per-subject budget each operation's cost is spent from (absent: only limits.maxCost applies). */
  costBudget?: CostBudget;
  /** Whose cost budget an operation of this context draws on (see costSubject). */
  costSubjectOf(context: Context): string;
  /** The safelist (GRAPHQL_TRUSTED_DOCUMENTS) and its mode; absent: any document runs. */
  trustedDocuments?: { list: TrustedDocumentList; mode: TrustedDocumentsMode };
  /** Automatic persisted queries, shared by every replica through Redis. */
  persistedQueryCache: RedisPersistedQueryCache;
}

/** Logs the errors that formatError masks, with the request id the client got in `x-request-id`. */
function errorLoggingPlugin<Context extends BaseContext>(logger: Logger, requestIdOf: (context: Context) => string): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            if (!isClientSafe(error)) logger.error({ err: loggableError(error.originalError ?? error), requestId: requestIdOf(contextValue) }, 'operation failed');
          }
        },
      };
    },
  };
}

/**
 * Apollo would execute a subscription sent over HTTP like a query, running its event resolver
 * without an event (an internal error): answer 400 and point at the websocket and SSE instead
 * (a request preferring `text/event-stream` never reaches Apollo: sse.ts).
 */
export function subscriptionsOverWebSocketOnly(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new GraphQLError('Subscriptions run over the graphql-ws websocket on this URL, or over Server-Sent Events (Accept: text/event-stream), not as plain HTTP requests.', {
            extensions: { code: ApolloServerErrorCode.BAD_REQUEST, http: { status: 400 } },
          });
        },
      };
    },
  };
}

export async function createGraphQLCore<Context extends BaseContext & { requestId: string; usage?: RequestUsage }>(options: GraphQLCoreOptions<Context>) {
  const costGate = createCostGate({
    schema: options.schema,
    maxCost: options.limits.maxCost,
    budget: options.costBudget,
    onCost: (cost, outcome) => options.metrics.observeOperationCost(cost, outcome),
  });
  // Trusted documents and persisted queries (trusted-documents*.ts): what a request names is
  // resolved to its text, and checked against the list, before the response cache or Apollo reads it.
  const persistedDocuments = new PersistedDocuments({
    trusted: options.trustedDocuments,
    apq: options.persistedQueryCache,
    maxTokens: options.limits.maxTokens,
    onOutsideList: outsideListReporter(options.metrics, options.logger),
    onStoreError: (error) => options.logger.warn({ err: loggableError(error) }, 'persisted queries: Redis unreachable; answering PERSISTED_QUERY_NOT_FOUND'),
  });
  // One set of cacheability decisions (and their parsed documents) for the response cache and live queries.
  const cacheableQueries = new CacheableQueries(options.schema, options.limits.maxTokens, options.responseCache?.volatileTypes);
  // One set of rules for Apollo and every subscription transport.
  const validationRules = createValidationRules(options.limits);
  const subscriptionCore = createSubscriptionCore<Context>({
    schema: options.schema,
    validationRules,
    maxTokens: options.limits.maxTokens,
    isIntrospectionEnabled: options.isIntrospectionEnabled,
    maxResponseBytes: options.limits.maxResponseBytes,
    onResponseTooLarge: () => options.metrics.countOversizedResponse(),
    costGate,
    costSubjectOf: options.costSubjectOf,
    createContext: options.createContext,
    liveOperations:
      options.liveQueries &&
      createLiveOperations<Context>({
        schema: options.schema,
        queries: cacheableQueries,
        store: options.liveQueries,
        createContext: options.createContext,
      }),
  });

  const apollo = new ApolloServer<Context>({
    schema: options.schema,
    introspection: options.isIntrospectionEnabled,
    includeStacktraceInErrorResponses: options.isDevelopment,
    // Safe to turn off: sessions travel only in the Authorization header, which a cross-site
    // "simple" request cannot carry, and turning it on would block plain `curl` GET queries.
    csrfPrevention: false,
    // Without introspection, "Did you mean …?" hints would still spell out the schema.
    formatError: createErrorFormatter({ hideSuggestions: !options.isIntrospectionEnabled }),
    validationRules,
    parseOptions: { maxTokens: options.limits.maxTokens },
    // Registrations every replica shares; in enforce mode none are stored (only listed documents run).
    persistedQueries: {
      cache: apolloPersistedQueryCache(options.persistedQueryCache, { acceptsRegistrations: persistedDocuments.mode !== 'enforce' }),
    },
    stopOnTerminationSignals: false,
    plugins: [
      // Cache-control hints are unused (caching is per entity, below the resolvers), and the
      // plugin would wrap every resolver of every request.
      ApolloServerPluginCacheControlDisabled(),
      errorLoggingPlugin<Context>(options.logger, (context) => context.requestId),
      requestMetricsApolloPlugin<Context>(options.metrics),
      costGatePlugin<Context>(costGate, options.costSubjectOf),
      subscriptionsOverWebSocketOnly(),
      // Browsers get the gateway's own playground (playground.ts); Apollo's page loads from CDNs.
      ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  return {
    apollo,
    /** The rules every subscription transport applies (the websocket, SSE, and the test kit's in-process one). */
    subscriptionCore,
    persistedDocuments,
    cacheableQueries,
  };
}

export type GraphQLCore<Context extends BaseContext & { requestId: string; usage?: RequestUsage }> = Awaited<ReturnType<typeof createGraphQLCore<Context>>>;
