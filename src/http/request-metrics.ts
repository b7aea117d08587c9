// Per-request metrics and the access log, as one Fastify plugin and one Apollo plugin sharing a
// record kept under this file's Symbol on the Fastify request. The record is the request's
// RequestUsage too: the GraphQL context hands it to the request's loaders, which count their SQL
// statements and Redis round trips into it (no AsyncLocalStorage). When the response is sent
// (onResponse) the request's duration and costs are observed under its operation's labels, and,
// at `debug`, one access log line is written: method, route, operation name, status, duration and
// request id, never the query string (GET variables are user values).
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { OperationIdentity } from '../observability/graphql-metrics';
import type { Logger } from '../logger';
import type { Metrics } from '../observability/metrics';
import type { RequestUsage } from '../observability/request-usage';

const requestRecord = Symbol('streamgate.requestMetrics');

/** One GraphQL HTTP request, as the metrics and the access log see it. */
export class GraphQLRequestRecord implements RequestUsage {
  sqlStatements = 0;
  redisRoundTrips = 0;
  /** Set once GraphQL resolved the operation, or the response cache recognised it. */
  operation: OperationIdentity | undefined = undefined;
  /** Whether it executed or was answered from the response cache (not refused before either). */
  isAnswered = false;
}

declare module 'fastify' {
  interface FastifyRequest {
    [requestRecord]: GraphQLRequestRecord | null;
  }
}

/** The record of a GraphQL request (null for other routes), for its context and the response cache. */
export const requestRecordOf = (request: FastifyRequest): GraphQLRequestRecord | null => request[requestRecord];

export interface RequestMetricsPluginOptions {
  metrics: Metrics;
  /** The server's logger: the access log is written when it is at `debug` (or `trace`). */
  logger: Logger;
  /** The GraphQL route: only its requests get a record and per-operation metrics. */
  path: string;
}

/** Routes as logged: the route pattern, or the path without its query string (404s). */
function routeOf(request: FastifyRequest): string {
  const route = request.routeOptions.url;
  if (route !== undefined) return route;
  const queryStart = request.url.indexOf('?');
  return queryStart === -1 ? request.url : request.url.slice(0, queryStart);
}

export const requestMetricsPlugin = fastifyPlugin<RequestMetricsPluginOptions>(
  async (fastify, { metrics, logger, path }) => {
    fastify.decorateRequest(requestRecord, null);

    // Synchronous hooks in callback style: an async hook costs every request a promise and its turns.
    fastify.addHook('onRequest', (request, _reply, done) => {
      if (request.routeOptions.url === path) {
        metrics.countOperation();
        request[requestRecord] = new GraphQLRequestRecord();
      }
      done();
    });

    fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
      const record = request[requestRecord];
      const durationMs = reply.elapsedTime;
      if (record) metrics.graphql.observeRequest(record.operation, durationMs / 1000, record.isAnswered ? record : undefined);
      done();
      if (!logger.isLevelEnabled('debug')) return;
      request.log.debug(
        {
          method: request.method,
          route: routeOf(request),
          operationName: record?.operation ? (record.operation.operationName ?? 'anonymous') : undefined,
          statusCode: reply.statusCode,
          durationMs: Math.round(durationMs * 1000) / 1000,
          requestId: request.id,
        },
        'request completed',
      );
    });
  },
  { name: 'streamgate-request-metrics', fastify: '5.x' },
);

/** A cacheable query looked up in the response cache (response-cache-plugin's onLookup). */
export function noteResponseCacheLookup(metrics: Metrics, request: FastifyRequest, operationName: string | null, isHit: boolean): void {
  metrics.graphql.countResponseCache(operationName, isHit);
  const record = request[requestRecord];
  if (!record || !isHit) return;
  record.operation = { operationName, operationType: 'query' };
  record.isAnswered = true;
}

/**
 * Names the operation on the request's record once GraphQL resolved it, marks it answered once it
 * executes, and counts the errors of its response by `extensions.code` (as formatError left them).
 */
export function requestMetricsApolloPlugin<Context extends BaseContext & { usage?: RequestUsage }>(metrics: Metrics): ApolloServerPlugin<Context> {
  const recordOf = (context: Context) => (context.usage instanceof GraphQLRequestRecord ? context.usage : undefined);
  return {
    async requestDidStart() {
      let operation: OperationIdentity | undefined;
      return {
        async didResolveOperation({ operation: resolved, contextValue }) {
          if (!resolved) return;
          operation = { operationName: resolved.name?.value ?? null, operationType: resolved.operation };
          const record = recordOf(contextValue);
          if (record) record.operation = operation;
        },
        async executionDidStart({ contextValue }) {
          const record = recordOf(contextValue);
          if (record) record.isAnswered = true;
        },
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single' || !response.body.singleResult.errors) return;
          metrics.graphql.countErrors(
            operation,
            response.body.singleResult.errors.map((error) => error.extensions?.code),
          );
        },
      };
    },
  };
}
