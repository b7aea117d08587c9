// The single place where errors become what a client sees: our AppErrors and GraphQL's own
// (parse, validation, variable coercion) pass through; anything else is an internal failure,
// masked so no message, stack or SQL leaks, and logged with the request id instead.
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode } from '../errors';

export const INTERNAL_ERROR_MESSAGE = 'Internal server error';

/** True for errors a client should see verbatim; false for bugs and infrastructure failures. */
export function isClientSafe(error: unknown): boolean {
  const original = unwrapResolverError(error);
  return original instanceof GraphQLError && original.extensions?.code !== ErrorCode.InternalServerError;
}

/** Apollo's `formatError`, and the same masking for results sent over the websocket. */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  if (isClientSafe(error)) return formatted;
  return {
    message: INTERNAL_ERROR_MESSAGE,
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.InternalServerError },
  };
}

// graphql-js appends `Did you mean "a", "b" or "c"?` to validation and coercion messages: field,
// argument, type and enum value names that introspection, when it is off, is meant to keep private.
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

export interface ErrorFormatterOptions {
  /** Drop graphql-js's "Did you mean …?" hints (they name schema members). @default false */
  hideSuggestions?: boolean;
}

/** formatError, optionally without schema suggestions: one formatter for HTTP and the websocket. */
export function createErrorFormatter({ hideSuggestions = false }: ErrorFormatterOptions = {}) {
  if (!hideSuggestions) return formatError;
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const masked = formatError(formatted, error);
    const message = masked.message.replace(SUGGESTION, '');
    return message === masked.message ? masked : { ...masked, message };
  };
}

/**
 * A quoted value in a database message (`invalid input syntax for type integer: "abc"`); the
 * identifiers Postgres quotes (`column "email"`, `constraint "users_email_key"`) follow no colon.
 */
const QUOTED = /: "[^"]*"/g;

/** A database driver's error (pg's or PGlite's DatabaseError): SQLSTATE code and severity. */
function isDatabaseError(error: Error): error is Error & { code: string; detail?: unknown; constraint?: unknown; table?: unknown; column?: unknown } {
  return 'severity' in error && typeof (error as { code?: unknown }).code === 'string';
}

/** The driver's message with quoted values blanked, and the identifiers it names (never `detail`, which quotes rows). */
function safeDatabaseError(error: Error & { code: string; constraint?: unknown; table?: unknown; column?: unknown }, message: string): Error {
  const safe = new Error(message);
  safe.name = error.name;
  const identifiers = { code: error.code, constraint: error.constraint, table: error.table, column: error.column };
  for (const [key, value] of Object.entries(identifiers)) if (typeof value === 'string') Object.assign(safe, { [key]: value });
  return safe;
}

/**
 * What may be logged of a masked error. Drizzle's query errors carry the statement's parameters
 * (emails, names, search terms) in their message and `params`, and the driver's errors quote
 * values in their message and rows in `detail`: keep the SQL text (placeholders only), the
 * SQLSTATE code and the identifiers, never the values. Applied down an error's `cause` chain,
 * which pino's serializer prints too.
 */
export function loggableError(error: unknown, depth = 0): unknown {
  if (!(error instanceof Error) || depth > 5) return error;
  if ('params' in error && 'query' in error) {
    const cause = error.cause instanceof Error ? error.cause : undefined;
    const causeMessage = cause ? ` (${cause.message.replace(QUOTED, ': "?"')})` : '';
    const message = `Failed query: ${String(error.query)}${causeMessage}`;
    if (cause && isDatabaseError(cause)) return Object.assign(safeDatabaseError(cause, message), { name: error.name });
    const safe = new Error(message);
    safe.name = error.name;
    const code = (cause as { code?: unknown } | undefined)?.code;
    return code === undefined ? safe : Object.assign(safe, { code });
  }
  if (isDatabaseError(error)) return safeDatabaseError(error, error.message.replace(QUOTED, ': "?"'));
  if (error.cause instanceof Error) {
    const cause = loggableError(error.cause, depth + 1);
    if (cause === error.cause) return error;
    const safe = new Error(error.message, { cause });
    safe.name = error.name;
    safe.stack = error.stack;
    return safe;
  }
  return error;
}
