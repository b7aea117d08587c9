// Queries and mutations through Apollo's executeOperation: the gateway's own Apollo Server, its
// plugins (cost limits, error masking and logging), and a context built as the HTTP handler builds
// one, but no HTTP, so a resolver test needs no port and no client.
import assert from 'node:assert/strict';
import type { App } from '../app';
import { authenticationAs, type As } from './viewer';
import type { GraphQLResult, OperationDocument, ResultOf, VariablesOf } from './typed-document';

export interface OperationOptions<Variables> {
  variables?: Variables;
  /** Who runs it: 'admin', 'alice', 'bob', a user id, or a role. @default anonymous */
  as?: As;
  /** The client address rate limits and budgets are keyed by. @default '127.0.0.1' */
  clientAddress?: string;
}

export type Execute = <Document extends OperationDocument>(
  document: Document,
  options?: OperationOptions<VariablesOf<Document>>,
) => Promise<GraphQLResult<ResultOf<Document>>>;

export function createExecute(app: App): Execute {
  let requestCount = 0;
  return async (document, options = {}) => {
    const authentication = await authenticationAs(app.database.db, options.as);
    requestCount += 1;
    const response = await app.graphql.apollo.executeOperation(
      { query: document, variables: options.variables as Record<string, unknown> | undefined },
      { contextValue: app.createContext(authentication, { requestId: `kit-${requestCount}`, clientAddress: options.clientAddress ?? '127.0.0.1' }) },
    );
    // Incremental delivery (@defer) is not enabled on the gateway: every response is single.
    assert(response.body.kind === 'single');
    return response.body.singleResult as GraphQLResult<never>;
  };
}
