// One error vocabulary for everything a client may see. Errors of class AppError reach the client
// with their message and `extensions.code`; any other error is masked as "Internal server error"
// (see http/format-error.ts) and logged with the request id.
import { GraphQLError } from 'graphql';

export enum ErrorCode {
  BadUserInput = 'BAD_USER_INPUT',
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  NotFound = 'NOT_FOUND',
  Conflict = 'CONFLICT',
  RateLimited = 'RATE_LIMITED',
  CursorExpired = 'CURSOR_EXPIRED',
  TooManySubscriptions = 'TOO_MANY_SUBSCRIPTIONS',
  ResponseTooLarge = 'RESPONSE_TOO_LARGE',
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
  /** A malformed request: here, a persisted-query id or hash that is not a SHA-256, or does not match the query sent with it. */
  BadRequest = 'BAD_REQUEST',
  /** A hash-only request (APQ or documentId) whose document this gateway does not know: send the query with it. */
  PersistedQueryNotFound = 'PERSISTED_QUERY_NOT_FOUND',
  /** A document outside the trusted documents, refused in enforce mode (GRAPHQL_TRUSTED_DOCUMENTS_MODE). */
  PersistedQueryNotInList = 'PERSISTED_QUERY_NOT_IN_LIST',
  InternalServerError = 'INTERNAL_SERVER_ERROR',
}

export interface AppErrorOptions {
  /** More machine-readable detail for the client (e.g. the argument at fault). */
  extensions?: Record<string, unknown>;
  /** HTTP status of the whole response, for errors raised before execution (the context). */
  httpStatus?: number;
}

export class AppError extends GraphQLError {
  constructor(code: ErrorCode, message: string, { extensions, httpStatus }: AppErrorOptions = {}) {
    super(message, {
      extensions: { ...extensions, code, ...(httpStatus ? { http: { status: httpStatus } } : {}) },
    });
  }
}

/** Whether `error` is ours (of `code`, when given): the one test for an AppError, never a look at `extensions.code` alone. */
export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.extensions.code === code);
}

/** Why something failed, in one line: the message, or for AggregateErrors (dual-stack connects) the inner ones. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length) return [...new Set(error.errors.map(describeError))].join(', ');
  if (error instanceof Error) return error.message || (('code' in error && String(error.code)) || error.name);
  return String(error);
}

/** A thrown value as an Error (what a batch puts in the slot of a key that failed). */
export const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

export const badUserInput = (message: string, extensions?: Record<string, unknown>) =>
  new AppError(ErrorCode.BadUserInput, message, { extensions });
export const unauthenticated = (message = 'You must be logged in to do this.', httpStatus?: number) =>
  new AppError(ErrorCode.Unauthenticated, message, { httpStatus });
export const forbidden = (message = 'You are not allowed to do this.') => new AppError(ErrorCode.Forbidden, message);
