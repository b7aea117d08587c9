// GraphQL subscriptions over Server-Sent Events on the GraphQL URL (graphql-sse's "distinct
// connections" mode: one operation per request), for clients that cannot or should not hold a
// websocket: browsers' EventSource, HTTP/1.1 proxies. The SSE adapter over subscription-core.ts,
// as websocket.ts is the websocket one, so both apply the same limits and error codes.
//
// Why not graphql-sse's own handler: it writes no `id:` and reads no Last-Event-ID, so a browser
// could not resume; and it reports refusals inside a 200 stream, which EventSource would reconnect
// to forever. Here each event's `id:` is its stream cursor, a Last-Event-ID header replaces the
// field's `after` (resume-after.ts; the header wins: it is the newer cursor), refusals are JSON
// with their status (sse-refusal.ts), and the stream (sse-stream.ts) stands in for a websocket
// wherever one is expected (session revocation, slow consumers). A `query @live` streams here too:
// its results come from the live query store (subscription-core.ts), with no cursor and no `id:`.
import { createSourceEventStream, GraphQLError, OperationTypeNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../errors';
import type { Authentication } from './auth-header';
import { CloseCode } from './close-codes';
import { isClientSafe } from './format-error';
import type { SocketSessions } from './socket-sessions';
import { sendRefusal } from './sse-refusal';
import { isEventStreamRequest, lastEventIdOf, readOperation } from './sse-request';
import { SseStream } from './sse-stream';
import { subscriptionFieldOf, type SubscriptionCore } from './subscription-core';

export interface ServerSentEventsOptions {
  /** The GraphQL route (shared with HTTP and the websocket). */
  path: string;
  /** Parses, validates, costs and formats every operation, as for the websocket. */
  core: SubscriptionCore;
  /** Resolves the Authorization header, as for HTTP; throws for a bad token. */
  authenticate(authorization: unknown): Promise<Authentication>;
  /** The websocket's registry, so revocations and session re-checks end SSE streams too. */
  sessions: SocketSessions;
  /** Long-lived connections (SSE streams and websockets together) one replica takes; more are refused with 503. */
  maxConnections: number;
  /** The other long-lived connections sharing maxConnections (websockets). */
  otherConnectionCount(): number;
  /** Between comment heartbeats on every stream. @default 15000 */
  heartbeatIntervalMs?: number;
  /** Hears each subscription that starts streaming (+1) and ends (-1), by its root field. @default none */
  onSubscriptionChange?(field: string, delta: 1 | -1): void;
  /** Hears failures no client is told the details of (masked as INTERNAL_SERVER_ERROR). @default none */
  onError?(error: unknown, requestId: string): void;
}

const isAsyncIterable = (value: object): value is AsyncIterable<unknown> => Symbol.asyncIterator in value;

/** The stream cursor of a source event (StreamEvent); other sources (serverTime's clock) have none. */
function cursorOf(sourceEvent: unknown): string | undefined {
  const cursor = typeof sourceEvent === 'object' && sourceEvent !== null ? (sourceEvent as { cursor?: unknown }).cursor : undefined;
  return typeof cursor === 'string' ? cursor : undefined;
}

const refusal = (code: ErrorCode, message: string) => [{ message, extensions: { code } }];

export function registerServerSentEvents(fastify: FastifyInstance, options: ServerSentEventsOptions) {
  const { core, sessions } = options;
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 15_000;
  const streams = new Set<SseStream>();
  /** Requests admitted under maxConnections that are still being checked: they hold a place too. */
  let startingCount = 0;
  let isClosing = false;

  const heartbeats = setInterval(() => {
    for (const stream of streams) stream.heartbeat();
  }, heartbeatIntervalMs);
  heartbeats.unref();

  /**
   * Executes each source event as graphql-js's `subscribe` does, but keeps the event at hand for
   * its cursor (the `id:`), whatever the client selected. One event at a time, each written (and
   * drained) before the next is taken: a client that stops reading fills its feed's bounded queue.
   */
  async function pump(stream: SseStream, source: AsyncIterable<unknown>, args: ExecutionArgs, requestId: string, isLive: boolean): Promise<void> {
    const iterator = source[Symbol.asyncIterator]();
    // The client left, or close() ended the stream: the feed unsubscribes, a pending next() ends.
    stream.once('close', () => void Promise.resolve(iterator.return?.()).catch((error: unknown) => options.onError?.(error, requestId)));
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done || stream.isClosed) break;
        // A live query's source yields results already (and has no cursor: a reconnect starts it again).
        const result = isLive ? (next.value as ExecutionResult) : await core.executeEvent(args, next.value);
        if (!stream.sendNext(core.formatNext(result) ?? result, cursorOf(next.value))) await stream.drained();
      }
      stream.complete();
    } catch (error) {
      // The feed failed (CURSOR_EXPIRED on a catch-up, the database replaced...): say why, and end for good.
      if (!isClientSafe(error)) options.onError?.(error, requestId);
      stream.sendNext({ errors: core.failureOf(error) });
      stream.complete();
    }
  }

  const unavailable = () => refusal(ErrorCode.ServiceUnavailable, 'Too many connections on this replica (or it is shutting down); try again later.');

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    if (isClosing || streams.size + startingCount + options.otherConnectionCount() >= options.maxConnections) return sendRefusal(reply, unavailable());
    startingCount += 1;
    try {
      return await start(request, reply);
    } finally {
      startingCount -= 1;
    }
  }

  async function start(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    let authentication: Authentication;
    let payload;
    try {
      authentication = await options.authenticate(request.headers.authorization);
      payload = readOperation(request);
    } catch (error) {
      if (error instanceof GraphQLError) return sendRefusal(reply, core.formatErrors([error]));
      throw error;
    }
    const stream = new SseStream(reply.raw);
    const prepared = await core.prepare(payload, {
      authentication,
      requestInfo: () => ({ requestId: request.id, clientAddress: request.ip }),
      socket: stream,
      allowedOperations: [OperationTypeNode.SUBSCRIPTION],
      resumeAfter: lastEventIdOf(request),
    });
    if (!('schema' in prepared)) return sendRefusal(reply, core.formatErrors(prepared));
    // Subscribes the feed and replays after the cursor: a refusal (UNAUTHENTICATED, NOT_FOUND,
    // CURSOR_EXPIRED, RATE_LIMITED) arrives as a result, before anything is streamed.
    const isLive = core.isLive(prepared);
    const source = isLive ? ((await core.execute(prepared)) as AsyncIterable<ExecutionResult>) : await createSourceEventStream(prepared);
    if (!isAsyncIterable(source)) {
      for (const error of source.errors ?? []) if (!isClientSafe(error)) options.onError?.(error.originalError ?? error, request.id);
      return sendRefusal(reply, (core.formatNext(source) ?? source).errors ?? []);
    }
    if (isClosing) {
      // Shutdown began while the feed opened: the client goes to another replica instead.
      void Promise.resolve(source[Symbol.asyncIterator]().return?.()).catch(() => undefined);
      return sendRefusal(reply, unavailable());
    }

    reply.hijack();
    stream.open(reply.getHeaders());
    streams.add(stream);
    if (authentication.viewer) sessions.add(stream, authentication, request.headers.authorization);
    const field = subscriptionFieldOf(prepared.document, prepared.operationName);
    if (field !== undefined) options.onSubscriptionChange?.(field, 1);
    stream.once('close', () => {
      streams.delete(stream);
      if (field !== undefined) options.onSubscriptionChange?.(field, -1);
    });
    void pump(stream, source, prepared, request.id, isLive);
    return reply;
  }

  // preValidation: after trusted documents resolved the request to text, before the response
  // cache (preHandler) could answer it as JSON.
  // Callback style: every GraphQL request runs this hook. A stream, once handled, does not call `done`.
  fastify.addHook('preValidation', (request, reply, done) => {
    if (request.routeOptions.url !== options.path || !isEventStreamRequest(request)) return done();
    handle(request, reply).catch(done);
  });

  return {
    /** Open SSE streams on this replica. */
    get streamCount(): number {
      return streams.size;
    },
    /** Ends every stream without `complete`, so clients reconnect (elsewhere) with Last-Event-ID; refuses new ones. */
    close(): void {
      isClosing = true;
      clearInterval(heartbeats);
      for (const stream of [...streams]) stream.close(CloseCode.GoingAway, 'Server shutting down; reconnect with Last-Event-ID');
    },
  };
}

export type ServerSentEvents = ReturnType<typeof registerServerSentEvents>;
