// Error masking: what a client may see of an error. Our AppErrors and GraphQL's own errors pass
// through with their codes; anything else (a bug, a driver error carrying SQL) becomes "Internal
// server error" with no message, stack or detail. Checked on the formatter alone, then through an
// in-process Apollo Server configured as src/http/server.ts configures it (no HTTP).
import { ApolloServer } from '@apollo/server';
import { buildSchema, GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode } from '../../src/errors';
import { createErrorFormatter, formatError, INTERNAL_ERROR_MESSAGE, isClientSafe } from '../../src/http/format-error';

/** What Apollo hands formatError for a resolver's error: graphql-js's wrapper with a path. */
const asResolverError = (original: Error) => new GraphQLError(original.message, { path: ['order'], originalError: original });

const formattedOf = (error: GraphQLError, extensions: Record<string, unknown> = {}): GraphQLFormattedError => ({
  ...error.toJSON(),
  locations: [{ line: 1, column: 3 }],
  extensions: { ...error.extensions, ...extensions },
});

describe('formatError', () => {
  it('passes an AppError through with its message, code and extensions', () => {
    const error = asResolverError(new AppError(ErrorCode.Conflict, 'Order 3 is already shipped', { extensions: { orderId: '3' } }));
    const formatted = formattedOf(error, { code: ErrorCode.Conflict, orderId: '3' });
    expect(formatError(formatted, error)).toBe(formatted);
  });

  it("passes GraphQL's own errors (validation, coercion) through", () => {
    const error = new GraphQLError('Cannot query field "nope" on type "Query".', { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    const formatted = formattedOf(error);
    expect(formatError(formatted, error)).toEqual(formatted);
  });

  it('masks an unexpected error: generic message, INTERNAL_SERVER_ERROR, no stack, no detail; keeps where it happened', () => {
    const error = asResolverError(Object.assign(new Error('duplicate key value violates unique constraint "users_email_key"'), { detail: 'Key (email)=(a@b.c)' }));
    const formatted = formattedOf(error, { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['Error: duplicate key', '    at db.ts:1'], detail: 'Key (email)=(a@b.c)' });
    const masked = formatError({ ...formatted, path: ['order'] }, error);
    expect(masked).toEqual({ message: INTERNAL_ERROR_MESSAGE, locations: [{ line: 1, column: 3 }], path: ['order'], extensions: { code: ErrorCode.InternalServerError } });
    expect(JSON.stringify(masked)).not.toMatch(/users_email_key|a@b\.c|stack|db\.ts/);
  });

  it('masks a thrown value that is not an Error at all', () => {
    expect(formatError({ message: 'oops' }, 'oops')).toEqual(expect.objectContaining({ message: INTERNAL_ERROR_MESSAGE }));
    expect(formatError({ message: 'undefined' }, undefined)).toEqual(expect.objectContaining({ message: INTERNAL_ERROR_MESSAGE }));
  });

  it('masks a GraphQLError that itself says it is internal (its message was never meant for clients)', () => {
    const error = asResolverError(new GraphQLError('pool exhausted at pg.ts:88', { extensions: { code: ErrorCode.InternalServerError } }));
    expect(isClientSafe(error)).toBe(false);
    expect(formatError(formattedOf(error), error).message).toBe(INTERNAL_ERROR_MESSAGE);
  });

  it('judges a resolver error by the error thrown, not by the GraphQLError wrapping it', () => {
    expect(isClientSafe(asResolverError(new Error('secret')))).toBe(false);
    expect(isClientSafe(asResolverError(new AppError(ErrorCode.NotFound, 'No such order')))).toBe(true);
  });
});

describe('createErrorFormatter', () => {
  const error = new GraphQLError('Cannot query field "nme" on type "Product". Did you mean "name" or "sku"?');

  it('drops "Did you mean …?" hints when asked (introspection off), keeping the rest of the message', () => {
    const format = createErrorFormatter({ hideSuggestions: true });
    expect(format(formattedOf(error), error).message).toBe('Cannot query field "nme" on type "Product".');
  });

  it('keeps them by default', () => {
    const format = createErrorFormatter();
    expect(format(formattedOf(error), error).message).toBe(error.message);
  });

  it('still masks internal errors when hiding hints', () => {
    const internal = asResolverError(new Error('Did you mean to leak this?'));
    const format = createErrorFormatter({ hideSuggestions: true });
    expect(format(formattedOf(internal), internal)).toEqual(expect.objectContaining({ message: INTERNAL_ERROR_MESSAGE, extensions: { code: ErrorCode.InternalServerError } }));
  });
});

describe('through Apollo Server, configured as the gateway configures it', () => {
  const schema = buildSchema('type Query { broken: String, conflict: String, hidden: String }');
  const rootValue = {
    broken: () => {
      throw new Error('connect ECONNREFUSED 10.0.0.5:5432');
    },
    conflict: () => {
      throw new AppError(ErrorCode.Conflict, 'Not enough stock');
    },
  };

  async function errorsOf(query: string, { isDevelopment, isIntrospectionEnabled }: { isDevelopment: boolean; isIntrospectionEnabled: boolean }) {
    const server = new ApolloServer({
      schema,
      rootValue,
      introspection: isIntrospectionEnabled,
      includeStacktraceInErrorResponses: isDevelopment,
      formatError: createErrorFormatter({ hideSuggestions: !isIntrospectionEnabled }),
    });
    const response = await server.executeOperation({ query });
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    return response.body.singleResult.errors ?? [];
  }

  const production = { isDevelopment: false, isIntrospectionEnabled: false };

  it('in production: an internal error is masked, with no stack trace', async () => {
    const [error] = await errorsOf('{ broken }', production);
    expect(error).toEqual({ message: INTERNAL_ERROR_MESSAGE, locations: [{ line: 1, column: 3 }], path: ['broken'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  });

  it('in production: a known error keeps its message and code, with no stack trace', async () => {
    const [error] = await errorsOf('{ conflict }', production);
    expect(error!.message).toBe('Not enough stock');
    expect(error!.extensions).toEqual({ code: ErrorCode.Conflict });
  });

  it('in production: validation errors keep their code but name no schema member', async () => {
    const [error] = await errorsOf('{ conflic }', production);
    expect(error!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(error!.message).not.toMatch(/Did you mean/);
  });

  it('in development: known errors carry a stack trace, internal ones are still masked', async () => {
    const development = { isDevelopment: true, isIntrospectionEnabled: true };
    const [conflict] = await errorsOf('{ conflict }', development);
    expect(conflict!.extensions!.stacktrace).toEqual(expect.arrayContaining([expect.stringContaining('Not enough stock')]));
    const [broken] = await errorsOf('{ broken }', development);
    expect(broken!.message).toBe(INTERNAL_ERROR_MESSAGE);
    expect(JSON.stringify(broken)).not.toMatch(/ECONNREFUSED|stacktrace/);
    const [invalid] = await errorsOf('{ conflic }', development);
    expect(invalid!.message).toMatch(/Did you mean "conflict"\?/);
  });
});
