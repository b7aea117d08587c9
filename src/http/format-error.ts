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
