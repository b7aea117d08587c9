// The operation cost limit, shared by HTTP and the websocket. Cost is computed on the operation
// with its coerced variables and argument defaults (graphql-query-complexity): one point per
// field, and list fields multiply their selection by the items they ask for (the `complexity` of
// each list field, modules/common/complexity.ts). It cannot be a validation rule, which never sees
// variables: `orders(first: $n)` would count as one item however large `$n` is.
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { GraphQLError, getOperationAST, type DocumentNode, type GraphQLSchema } from 'graphql';
import { getVariableValues } from 'graphql/execution/values';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { ErrorCode } from '../errors';
import type { CostBudget } from './cost-budget';

export interface OperationToCost {
  document: DocumentNode;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/**
 * Fragments spread many times are walked once per spread; past this many fields the operation is
 * refused outright rather than walked further.
 */
const MAX_FIELDS_WALKED = 10_000;
const estimators = [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })];

/**
 * The operation's cost, or undefined when it cannot be costed because its variables do not coerce
 * (execution then rejects them with the usual error) or it names no operation of the document.
 */
export function operationCost(schema: GraphQLSchema, { document, operationName, variables }: OperationToCost): number | undefined {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) return undefined;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return undefined;
  try {
    return getComplexity({ schema, query: document, operationName: operation.name?.value, variables: variables ?? {}, estimators, maxQueryNodes: MAX_FIELDS_WALKED });
  } catch {
    return Infinity; // more fields than MAX_FIELDS_WALKED
  }
}

export function costTooHigh(cost: number, maxCost: number): GraphQLError {
  const shownCost = Number.isFinite(cost) ? cost : null;
  return new GraphQLError(`Query cost ${shownCost ?? 'beyond counting'} exceeds the maximum of ${maxCost}; ask for fewer items (first) or fewer fields.`, {
    extensions: { code: ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED, cost: shownCost, maxCost },
  });
}

export interface CostGateOptions {
  schema: GraphQLSchema;
  /** Highest cost one operation may have. */
  maxCost: number;
  /** Per-subject budget the cost is spent from. @default none (only maxCost applies) */
  budget?: CostBudget;
  /** Hears every computed cost and every rejection. @default none */
  onCost?: (cost: number, outcome: 'admitted' | 'too-costly' | 'rate-limited') => void;
}

export interface CostGate {
  /**
   * Costs the operation, then spends the cost from the subject's budget. Throws a
   * GRAPHQL_VALIDATION_FAILED error (with cost and maxCost) or RATE_LIMITED; returns the cost.
   */
  admit(operation: OperationToCost, subject: string): Promise<number | undefined>;
}

export function createCostGate({ schema, maxCost, budget, onCost = () => undefined }: CostGateOptions): CostGate {
  return {
    async admit(operation, subject) {
      const cost = operationCost(schema, operation);
      if (cost === undefined) return undefined;
      if (cost > maxCost) {
        onCost(cost, 'too-costly');
        throw costTooHigh(cost, maxCost);
      }
      try {
        await budget?.spend(subject, cost);
      } catch (error) {
        onCost(cost, 'rate-limited');
        throw error;
      }
      onCost(cost, 'admitted');
      return cost;
    },
  };
}

/** What HTTP status a refusal gets: 400 for too costly, 429 (with Retry-After) for a spent budget. */
function withHttpStatus(error: unknown): unknown {
  if (!(error instanceof GraphQLError)) return error;
  const { retryAfterSeconds } = error.extensions;
  const http =
    error.extensions.code === ErrorCode.RateLimited
      ? { status: 429, headers: new HeaderMap([['retry-after', String(retryAfterSeconds)]]) }
      : { status: 400 };
  return new GraphQLError(error.message, { extensions: { ...error.extensions, http } });
}

/** Applies the gate to HTTP operations once Apollo knows the operation and its variables. */
export function costGatePlugin<Context extends BaseContext>(gate: CostGate, subjectOf: (context: Context) => string): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, operationName, request, contextValue }) {
          // A subscription over HTTP is refused by its own plugin (these hooks run together): it spends nothing.
          if (operation?.operation === 'subscription') return;
          try {
            await gate.admit({ document, operationName, variables: request.variables }, subjectOf(contextValue));
          } catch (error) {
            throw withHttpStatus(error);
          }
        },
      };
    },
  };
}
