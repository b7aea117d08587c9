// Runs operations through the real Apollo Server (executeOperation) with a real context, as the
// HTTP handler would build it for the given bearer token.
import assert from 'node:assert/strict';
import type { App } from '../../src/app';

export interface OperationResult<Data> {
  data?: Data | null;
  errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }>;
}

/** `clientAddress`: where the operations come from (rate limits and budgets are keyed by it). */
export function createOperationRunner(app: App, clientAddress = '127.0.0.1') {
  let requestCount = 0;
  return async function execute<Data = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
  ): Promise<OperationResult<Data>> {
    const authentication = await app.authenticate(token ? `Bearer ${token}` : undefined);
    requestCount += 1;
    const response = await app.graphql.apollo.executeOperation(
      { query, variables },
      { contextValue: app.createContext(authentication, { requestId: `test-${requestCount}`, clientAddress }) },
    );
    assert(response.body.kind === 'single');
    return response.body.singleResult as OperationResult<Data>;
  };
}

/** The `extensions.code` of each error, for compact assertions. */
export const errorCodes = (result: OperationResult<unknown>) => (result.errors ?? []).map((error) => error.extensions?.code);
