// An SSE request refused before its stream starts (bad document, too costly, no session, an
// expired cursor...) is answered as a plain GraphQL JSON error response, with the status its code
// calls for. Not an event stream: a browser's EventSource treats any other status or content type
// as final and stops reconnecting, which is what a refusal needs (reconnecting would be refused
// again); fetch-based clients (graphql-sse's) read the JSON body and its extensions.code.
import { ApolloServerErrorCode } from '@apollo/server/errors';
import type { FastifyReply } from 'fastify';
import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode } from '../errors';

/** Retry-After for a replica that is full or cannot check sessions right now. */
const RETRY_AFTER_UNAVAILABLE_SECONDS = 5;

/** The HTTP status of a refusal by the first error's code. */
export function refusalStatus(code: unknown): number {
  switch (code) {
    case ApolloServerErrorCode.GRAPHQL_PARSE_FAILED:
    case ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED:
    case ApolloServerErrorCode.BAD_REQUEST:
      return 400;
  }
  if (!Object.values<unknown>(ErrorCode).includes(code)) return 500;
  const known = code as ErrorCode;
  switch (known) {
    case ErrorCode.BadUserInput:
    case ErrorCode.BadRequest:
    case ErrorCode.ResponseTooLarge:
    case ErrorCode.PersistedQueryNotFound:
    case ErrorCode.PersistedQueryNotInList:
      return 400;
    case ErrorCode.Unauthenticated:
      return 401;
    case ErrorCode.Forbidden:
      return 403;
    case ErrorCode.NotFound:
      return 404;
    case ErrorCode.Conflict:
      return 409;
    // Gone: the events after the cursor are no longer kept; refetch, then subscribe without it.
    case ErrorCode.CursorExpired:
      return 410;
    case ErrorCode.RateLimited:
    case ErrorCode.TooManySubscriptions:
      return 429;
    case ErrorCode.ServiceUnavailable:
      return 503;
    case ErrorCode.InternalServerError:
      return 500;
    default: {
      const unhandled: never = known;
      return unhandled;
    }
  }
}

/** Extensions as a client sees them: `http` is for this server only (Apollo drops it too). */
function withoutHttpExtension(error: GraphQLFormattedError): GraphQLFormattedError {
  if (!error.extensions || !('http' in error.extensions)) return error;
  const { http: _http, ...extensions } = error.extensions;
  return { ...error, extensions };
}

/** Sends the refusal; `errors` are formatted (masked) already. */
export function sendRefusal(reply: FastifyReply, errors: readonly GraphQLFormattedError[]): FastifyReply {
  const first = errors[0]?.extensions;
  const status = refusalStatus(first?.code);
  if (status === 429 && typeof first?.retryAfterSeconds === 'number') void reply.header('retry-after', String(first.retryAfterSeconds));
  if (status === 503) void reply.header('retry-after', String(RETRY_AFTER_UNAVAILABLE_SECONDS));
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .type('application/json; charset=utf-8')
    .send({ errors: errors.map(withoutHttpExtension) });
}
