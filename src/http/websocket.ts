// graphql-ws on the same port and path as HTTP: the websocket adapter over subscription-core.ts,
// which gives every operation fresh loaders, the same parse/validation/cost limits as HTTP and the
// same error masking (sse.ts is the other adapter). The session is checked once, at connection_init
// (a bad token closes the socket with 4403), and again whenever it may have been revoked. Limits
// keep one replica's memory bounded: connections per replica, SSE streams included (1013 beyond),
// subscriptions per connection (TOO_MANY_SUBSCRIPTIONS), and events queued per subscriber (the
// feed reports a slow consumer, see subscriptions/subscription-feeds.ts, and closeSlowConsumer in
// close-codes.ts closes its socket). Close codes: close-codes.ts.
import type { Server as HttpServer } from 'node:http';
import { GraphQLError } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError, ErrorCode, isAppError } from '../errors';
import { ANONYMOUS, type Authentication } from './auth-header';
import { CloseCode } from './close-codes';
import { SocketSessions } from './socket-sessions';
import { subscriptionFieldOf, type SubscriptionCore } from './subscription-core';

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

export interface WebSocketOptions {
  httpServer: HttpServer;
  path: string;
  /** Parses, validates, costs and formats every operation, as for SSE (subscription-core.ts). */
  core: SubscriptionCore;
  /** Largest frame accepted (the HTTP body limit); a bigger one closes the socket with 1009. */
  maxPayloadBytes: number;
  limits: WebSocketLimits;
  /** Other long-lived connections sharing limits.maxConnections (SSE streams). @default none */
  otherConnectionCount?(): number;
  /** Resolves connectionParams.authorization; throws for a bad token. */
  authenticate(authorization: unknown): Promise<Authentication>;
  /**
   * The text a subscribe payload runs, or the errors refusing it (trusted documents, a hash-only
   * payload: trusted-documents.ts). Absent: `payload.query` as sent.
   */
  resolveDocument?(payload: SubscribePayload): Promise<string | GraphQLError[]>;
  /** Hears each subscription that starts streaming (+1) and ends (-1), by its root field. @default none */
  onSubscriptionChange?(field: string, delta: 1 | -1): void;
}

export function attachWebSocketServer(options: WebSocketOptions) {
  const { limits, core } = options;
  // ws would otherwise take frames up to 100 MiB: the same bound as an HTTP body instead.
  const wsServer = new WebSocketServer({ server: options.httpServer, path: options.path, maxPayload: options.maxPayloadBytes });
  const sessions = new SocketSessions(options.authenticate);
  let operationCount = 0;
  /** The root field of each streaming subscription, by connection and operation id, until it completes. */
  const streamingFields = new WeakMap<object, Map<string, string>>();

  // Registered before graphql-ws's own listener, so an extra connection never gets started.
  wsServer.on('connection', (socket) => {
    if (wsServer.clients.size + (options.otherConnectionCount?.() ?? 0) > limits.maxConnections) {
      socket.close(CloseCode.TryAgainLater, 'Too many connections on this replica; try again later');
    }
  });

  const disposable = useServer(
    {
      connectionInitWaitTimeout: limits.initTimeoutMs,
      // A `query @live` streams its results (subscription-core.ts); other queries run once.
      execute: (args) => core.execute(args),
      // Identical subscriptions on this replica execute each live event once (shared-event-results.ts).
      subscribe: (args) => core.subscribe(args),
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
        const socket: WebSocket = ctx.extra.socket;
        const prepared = await core.prepare(
          { query, operationName: payload.operationName, variables: payload.variables },
          {
            authentication: sessions.authenticationOf(socket) ?? ANONYMOUS,
            requestInfo: () => {
              operationCount += 1;
              return { requestId: `ws-${id}-${operationCount}`, clientAddress: ctx.extra.request.socket.remoteAddress ?? 'unknown' };
            },
            socket,
          },
        );
        return 'schema' in prepared ? prepared : [...prepared];
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
      onNext: (_ctx, _id, _payload, _args, result) => core.formatNext(result),
      onError: (_ctx, _id, _payload, errors) => core.formatErrors(errors),
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
