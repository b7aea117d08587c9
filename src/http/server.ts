// The gateway's HTTP face over its GraphQL core (graphql-core.ts: Apollo Server and the
// subscription core): Fastify with Apollo on /graphql (POST and GET), subscriptions
// over graphql-ws and Server-Sent Events on the same path (one subscription core, two adapters),
// the GraphiQL playground for browsers (playground.ts), health routes, and errors shaped as
// GraphQL responses even when they happen before Apollo sees the request (malformed JSON,
// oversized or unsupported bodies). A repeated cacheable query is answered from the response
// cache before Apollo runs (response-cache-plugin.ts). Per-operation metrics and the access log:
// request-metrics.ts.
import { randomUUID } from 'node:crypto';
import type { BaseContext } from '@apollo/server';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError } from 'fastify';
import { GraphQLError } from 'graphql';
import type { Logger } from '../logger';
import { ErrorCode } from '../errors';
import type { Authentication } from './auth-header';
import { INTERNAL_ERROR_MESSAGE } from './format-error';
import { attachWebSocketServer, type WebSocketLimits } from './websocket';
import { websocketDocumentResolver } from './trusted-documents';
import { noteResponseCacheLookup, requestMetricsPlugin, requestRecordOf } from './request-metrics';
import type { GraphQLCore, GraphQLCoreOptions } from './graphql-core';
import { loggableError } from '../loggable-error';
import { createOperatorServer, registerHealthRoutes, registerMetricsRoute, type ReadinessCheck } from './health';
import { lazyRequestLogger } from './lazy-request-logger';
import { registerResponseSizeLimit } from './response-size';
import { registerPlayground } from './playground';
import { registerServerSentEvents } from './sse';
import { registerTrustedDocuments } from './trusted-documents-http';
import { errorResultType } from './media-type';
import { responseCachePlugin, responseCacheState } from './response-cache-plugin';
import type { RequestUsage } from '../observability/request-usage';

export const GRAPHQL_PATH = '/graphql';

/** What the HTTP face needs besides its GraphQL core's options (graphql-core.ts). */
export interface GatewayServerOptions<Context extends BaseContext> extends GraphQLCoreOptions<Context> {
  /** The GraphiQL playground for browsers at GRAPHQL_PATH (playground.ts); off: a page saying so. */
  isPlaygroundEnabled: boolean;
  /** Serve /metrics and the /readyz details on the API port too (off in production). */
  isOperatorDataPublic: boolean;
  /** A second listener (on the same host) for /metrics, /healthz and a detailed /readyz; absent: none. */
  metricsPort?: number;
  bodyLimitBytes: number;
  readinessChecks: ReadinessCheck[];
  /** Extra facts /readyz reports (e.g. the outbox backlog); failures are reported, not fatal. */
  readinessDetails?: () => Promise<Record<string, unknown>>;
  /** Also for SSE streams: maxConnections counts websockets and SSE streams together. */
  websocketLimits: WebSocketLimits;
  /** Between comment heartbeats on open SSE streams, so idle proxies keep them. @default 15000 */
  sseHeartbeatIntervalMs?: number;
  authenticate(authorization: unknown): Promise<Authentication>;
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export async function createGatewayServer<Context extends BaseContext & { requestId: string; usage?: RequestUsage }>(
  options: GatewayServerOptions<Context>,
  core: GraphQLCore<Context>,
) {
  const { apollo, subscriptionCore, persistedDocuments, cacheableQueries } = core;
  let isAcceptingTraffic = true;
  const fastify = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Fastify's two info lines per request would dominate CPU under load: request-metrics.ts
    // writes one access log line at debug instead; errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // The logger Fastify is given is the app's pino logger.
    childLoggerFactory: (logger, bindings, options) => lazyRequestLogger(logger as Logger, bindings, options),
    bodyLimit: options.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
    },
    // Long-lived websockets must not hold the process open during shutdown.
    forceCloseConnections: 'idle',
  });
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  registerResponseSizeLimit(fastify, {
    maxBytes: options.limits.maxResponseBytes,
    path: GRAPHQL_PATH,
    onTooLarge: () => options.metrics.countOversizedResponse(),
  });
  // Errors Fastify raises before Apollo runs (bad JSON, too large, unsupported media type) keep
  // their 4xx status but get a GraphQL-shaped body, so clients parse one kind of error.
  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: loggableError(error), requestId: request.id }, 'request failed');
    if (request.routeOptions.url === GRAPHQL_PATH) {
      options.metrics.graphql.countErrors(undefined, [status === 500 ? ErrorCode.InternalServerError : ErrorCode.BadRequest]);
    }
    void reply.code(status).type(errorResultType(request.headers.accept)).send({
      errors: [
        {
          message: status === 500 ? INTERNAL_ERROR_MESSAGE : error.message,
          extensions: { code: status === 500 ? ErrorCode.InternalServerError : 'BAD_REQUEST' },
        },
      ],
    });
  });

  // Trusted documents and persisted queries: resolved and checked before the response cache or Apollo reads a request.
  registerTrustedDocuments(fastify, { documents: persistedDocuments, path: GRAPHQL_PATH });

  const countSubscription = (field: string, delta: 1 | -1) => options.metrics.graphql.countSubscription(field, delta);
  const websocket = attachWebSocketServer({
    httpServer: fastify.server,
    path: GRAPHQL_PATH,
    core: subscriptionCore,
    maxPayloadBytes: options.bodyLimitBytes,
    limits: options.websocketLimits,
    otherConnectionCount: () => serverSentEvents.streamCount,
    authenticate: options.authenticate,
    resolveDocument: websocketDocumentResolver(persistedDocuments),
    onSubscriptionChange: countSubscription,
  });
  // After trusted documents (their preValidation hook is registered above), before the route.
  const serverSentEvents = registerServerSentEvents(fastify, {
    path: GRAPHQL_PATH,
    core: subscriptionCore,
    authenticate: options.authenticate,
    sessions: websocket.sessions,
    maxConnections: options.websocketLimits.maxConnections,
    otherConnectionCount: () => websocket.wsServer.clients.size,
    heartbeatIntervalMs: options.sseHeartbeatIntervalMs,
    onSubscriptionChange: countSubscription,
    onError: (error, requestId) => options.logger.error({ err: loggableError(error), requestId }, 'SSE subscription failed'),
  });
  options.metrics.watchWebsockets(websocket.wsServer.clients);

  const apolloHandler = fastifyApolloHandler(apollo, {
    context: async (request) => {
      const cached = request[responseCacheState];
      let authentication: Authentication;
      try {
        authentication = cached?.authentication ?? (await options.authenticate(request.headers.authorization));
      } catch (error) {
        // Apollo answers it without running plugins: counted here (UNAUTHENTICATED, SERVICE_UNAVAILABLE).
        options.metrics.graphql.countErrors(undefined, [error instanceof GraphQLError ? error.extensions.code : undefined]);
        throw error;
      }
      return options.createContext(authentication, {
        requestId: request.id,
        clientAddress: request.ip,
        dependencies: cached?.miss?.dependencies,
        usage: requestRecordOf(request) ?? undefined,
      });
    },
  });

  // First, so a browser's page view is answered before it is counted as an operation.
  registerPlayground(fastify, { isEnabled: options.isPlaygroundEnabled, graphqlPath: GRAPHQL_PATH });
  await fastify.register(requestMetricsPlugin, { metrics: options.metrics, logger: options.logger, path: GRAPHQL_PATH });
  if (options.responseCache) {
    await fastify.register(responseCachePlugin, {
      cache: options.responseCache,
      queries: cacheableQueries,
      path: GRAPHQL_PATH,
      authenticate: options.authenticate,
      usageOf: (request) => requestRecordOf(request) ?? undefined,
      onLookup: (request, operationName, isHit) => noteResponseCacheLookup(options.metrics, request, operationName, isHit),
    });
  }
  fastify.route({
    url: GRAPHQL_PATH,
    method: ['GET', 'POST', 'OPTIONS'],
    handler: apolloHandler,
  });
  const health = { checks: options.readinessChecks, details: options.readinessDetails, isAcceptingTraffic: () => isAcceptingTraffic };
  if (options.isOperatorDataPublic) registerMetricsRoute(fastify, options.metrics.registry);
  registerHealthRoutes(fastify, { ...health, showDetails: options.isOperatorDataPublic });
  const operatorServer =
    options.metricsPort === undefined
      ? undefined
      : createOperatorServer({ ...health, registry: options.metrics.registry, logger: options.logger as FastifyBaseLogger });

  return {
    fastify,
    apollo,
    websocket,
    serverSentEvents,
    /** The rules every subscription transport applies (the websocket, SSE, and the test kit's in-process one). */
    subscriptionCore,
    operatorServer,
    async listen(port: number, host: string): Promise<string> {
      if (operatorServer) await operatorServer.listen({ port: options.metricsPort, host });
      await fastify.listen({ port, host });
      const address = fastify.server.address();
      const boundPort = typeof address === 'object' && address ? address.port : port;
      return `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${boundPort}${GRAPHQL_PATH}`;
    },
    /**
     * Stops accepting, says goodbye to websockets (1001) and ends SSE streams (clients reconnect
     * elsewhere with Last-Event-ID), lets in-flight requests finish. The GraphQL core (Apollo) is
     * its owner's to stop, after this.
     */
    async close(): Promise<void> {
      isAcceptingTraffic = false;
      serverSentEvents.close();
      await websocket.close();
      await fastify.close();
      await operatorServer?.close();
    },
  };
}

export type GatewayServer<Context extends BaseContext & { requestId: string; usage?: RequestUsage }> = Awaited<
  ReturnType<typeof createGatewayServer<Context>>
>;
