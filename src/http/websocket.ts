// graphql-ws on the same port and path as HTTP. The session is checked once, at connection_init
// (a bad token closes the socket with 4403), and again whenever it may have been revoked; every
// operation gets fresh loaders, the same parse/validation limits as HTTP, and the same error
// masking. Limits keep one replica's memory bounded: connections per replica (1013 beyond),
// subscriptions per connection (TOO_MANY_SUBSCRIPTIONS), and events queued per subscriber (the
// feed reports a slow consumer, see subscriptions/subscription-feeds.ts, and closeSlowConsumer
// closes its socket). Close codes: close-codes.ts.
import type { Server as HttpServer } from 'node:http';
import { GraphQLError, Kind, NoSchemaIntrospectionCustomRule, getOperationAST, parse, specifiedRules, validate, type DocumentNode, type ExecutionResult, type FormattedExecutionResult, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RequestInfo } from '../auth/viewer';
import { AppError, ErrorCode, isAppError } from '../errors';
import type { SubscriberSocket } from '../subscriptions/subscription-feeds';
import { ANONYMOUS, type Authentication } from './auth-header';
import { CloseCode } from './close-codes';
import type { CostGate } from './cost';
import { createErrorFormatter } from './format-error';
import { exceedsJsonBytes, responseTooLarge } from './response-size';
import { SocketSessions } from './socket-sessions';

export interface WebSocketLimits {
  /** Open websockets one replica accepts; more are closed with 1013. */
  maxConnections: number;
  /** Operations one connection may run at once. */
  maxSubscriptionsPerConnection: number;
  /** How often every socket's session is checked (and its lifetime extended). */
  sessionCheckIntervalMs: number;
  /** How long a new socket has to send connection_init before it is closed with 4408. */
  initTimeoutMs: number;
}

export interface WebSocketOptions<Context> {
  httpServer: HttpServer;
  path: string;
  schema: GraphQLSchema;
  validationRules: ValidationRule[];
  maxTokens: number;
  /** Off: `__schema`/`__type` are validation errors and "Did you mean …?" hints are dropped, as over HTTP. */
  isIntrospectionEnabled: boolean;
  /** Largest frame accepted (the HTTP body limit); a bigger one closes the socket with 1009. */
  maxPayloadBytes: number;
  /** Largest result sent (GRAPHQL_MAX_RESPONSE_BYTES, as over HTTP); a bigger one becomes RESPONSE_TOO_LARGE. */
  maxResponseBytes: number;
  /** Hears each result that was replaced. @default none */
  onResponseTooLarge?(): void;
  limits: WebSocketLimits;
  /** The same operation cost limit and budget as HTTP (cost.ts). */
  costGate: CostGate;
  /** Whose cost budget an operation of this context draws on. */
  costSubjectOf(context: Context): string;
  /** Resolves connectionParams.authorization; throws for a bad token. */
  authenticate(authorization: unknown): Promise<Authentication>;
  /** A fresh context for one operation of an authenticated socket. */
  createContext(authentication: Authentication, request: RequestInfo, socket?: SubscriberSocket): Context;
  /**
   * The text a subscribe payload runs, or the errors refusing it (trusted documents, a hash-only
   * payload: trusted-documents.ts). Absent: `payload.query` as sent.
   */
  resolveDocument?(payload: SubscribePayload): Promise<string | GraphQLError[]>;
  /** Hears each subscription that starts streaming (+1) and ends (-1), by its root field. @default none */
  onSubscriptionChange?(field: string, delta: 1 | -1): void;
}

/** The root field a subscription operation selects (validation allows exactly one). */
function subscriptionFieldOf(document: DocumentNode, operationName: string | null | undefined): string | undefined {
  const operation = getOperationAST(document, operationName);
  const first = operation?.operation === 'subscription' ? operation.selectionSet.selections[0] : undefined;
  return first?.kind === Kind.FIELD ? first.name.value : undefined;
}

/** Parse and validation errors with the extensions.code Apollo gives the same errors over HTTP. */
function withCode(error: GraphQLError, code: ApolloServerErrorCode): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    extensions: { ...error.extensions, code },
  });
}

/** Errors a subscription's event stream threw reach onError wrapped by graphql-ws: unwrap ours. */
function unwrapStreamError(error: GraphQLError): GraphQLError {
  return error.originalError instanceof GraphQLError ? error.originalError : error;
}

/** Closes the socket of a subscriber that stopped reading (SubscriptionFeeds' onSlowConsumer). */
export function closeSlowConsumer(socket: SubscriberSocket, maxQueuedEvents: number): void {
  socket.close(CloseCode.SlowConsumer, `Slow consumer: more than ${maxQueuedEvents} events queued; reconnect and resume`);
}

/**
 * Apollo would execute a subscription sent over HTTP like a query, running its event resolver
 * without an event (an internal error): answer 400 and point at the websocket instead.
 */
export function subscriptionsOverWebSocketOnly(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new GraphQLError('Subscriptions run over the graphql-ws websocket on this URL, not over HTTP.', {
            extensions: { code: ApolloServerErrorCode.BAD_REQUEST, http: { status: 400 } },
          });
        },
      };
    },
  };
}

export function attachWebSocketServer<Context>(options: WebSocketOptions<Context>) {
  const { limits } = options;
  // ws would otherwise take frames up to 100 MiB: the same bound as an HTTP body instead.
  const wsServer = new WebSocketServer({ server: options.httpServer, path: options.path, maxPayload: options.maxPayloadBytes });
  const rules = [
    ...specifiedRules,
    ...options.validationRules,
    ...(options.isIntrospectionEnabled ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  const formatError = createErrorFormatter({ hideSuggestions: !options.isIntrospectionEnabled });
  const sessions = new SocketSessions(options.authenticate);
  let operationCount = 0;
  /** The root field of each streaming subscription, by connection and operation id, until it completes. */
  const streamingFields = new WeakMap<object, Map<string, string>>();

  // Registered before graphql-ws's own listener, so an extra connection never gets started.
  wsServer.on('connection', (socket) => {
    if (wsServer.clients.size > limits.maxConnections) {
      socket.close(CloseCode.TryAgainLater, 'Too many connections on this replica; try again later');
    }
  });

  const maskErrors = (result: ExecutionResult): FormattedExecutionResult | undefined =>
    result.errors?.length
      ? { ...result, errors: result.errors.map((error) => formatError(error.toJSON(), error)) }
      : undefined;

  const disposable = useServer(
    {
      connectionInitWaitTimeout: limits.initTimeoutMs,
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        try {
          sessions.add(ctx.extra.socket, await options.authenticate(authorization), authorization);
          return true;
        } catch (error) {
          if (isAppError(error, ErrorCode.ServiceUnavailable)) {
            ctx.extra.socket.close(CloseCode.TryAgainLater, 'Sessions cannot be checked right now; try again shortly');
          }
          return false; // graphql-ws closes with 4403 Forbidden (a no-op once closed above)
        }
      },
      onSubscribe: async (ctx, id, payload) => {
        // graphql-ws has reserved this id in ctx.subscriptions already, so it counts itself.
        if (Object.keys(ctx.subscriptions).length > limits.maxSubscriptionsPerConnection) {
          return [
            new AppError(
              ErrorCode.TooManySubscriptions,
              `A connection may run at most ${limits.maxSubscriptionsPerConnection} operations at once; complete one first.`,
            ),
          ];
        }
        const query = options.resolveDocument ? await options.resolveDocument(payload) : payload.query;
        if (typeof query !== 'string') return query;
        let document: DocumentNode;
        try {
          document = parse(query, { maxTokens: options.maxTokens });
        } catch (error) {
          return [withCode(error instanceof GraphQLError ? error : new GraphQLError('Invalid GraphQL document.'), ApolloServerErrorCode.GRAPHQL_PARSE_FAILED)];
        }
        const errors = validate(options.schema, document, rules);
        if (errors.length) return errors.map((error) => withCode(error, ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED));
        const socket: WebSocket = ctx.extra.socket;
        operationCount += 1;
        const contextValue = options.createContext(
          sessions.authenticationOf(socket) ?? ANONYMOUS,
          { requestId: `ws-${id}-${operationCount}`, clientAddress: ctx.extra.request.socket.remoteAddress ?? 'unknown' },
          socket,
        );
        try {
          await options.costGate.admit({ document, operationName: payload.operationName, variables: payload.variables }, options.costSubjectOf(contextValue));
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        return { schema: options.schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
      },
      // graphql-ws calls onComplete after onOperation for every operation, however it ends
      // (completed by either side, failed, or the socket closed).
      onOperation: (ctx, id, _payload, args, result) => {
        if (!options.onSubscriptionChange || !(Symbol.asyncIterator in result) || !(id in ctx.subscriptions)) return;
        const field = subscriptionFieldOf(args.document, args.operationName);
        if (field === undefined) return;
        let fields = streamingFields.get(ctx);
        if (!fields) streamingFields.set(ctx, (fields = new Map()));
        fields.set(id, field);
        options.onSubscriptionChange(field, 1);
      },
      onComplete: (ctx, id) => {
        const field = streamingFields.get(ctx)?.get(id);
        if (field === undefined) return;
        streamingFields.get(ctx)!.delete(id);
        options.onSubscriptionChange?.(field, -1);
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!exceedsJsonBytes(result, options.maxResponseBytes)) return maskErrors(result);
        options.onResponseTooLarge?.();
        // The operation goes on: a later, smaller event is delivered again.
        return { errors: [responseTooLarge(null, options.maxResponseBytes)] };
      },
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((error) => {
          const original = unwrapStreamError(error);
          return formatError(original.toJSON(), original);
        }),
    },
    wsServer,
  );

  const sessionChecks = setInterval(() => void sessions.recheckAll(), limits.sessionCheckIntervalMs);
  sessionChecks.unref();

  return {
    wsServer,
    sessions,
    /** Closes every socket with 1001 (Going Away), so clients reconnect elsewhere and resume. */
    async close(): Promise<void> {
      clearInterval(sessionChecks);
      for (const socket of wsServer.clients) socket.close(CloseCode.GoingAway, 'Server shutting down');
      await disposable.dispose();
    },
  };
}
