// The operation cost limit, shared by HTTP and the websocket. Cost is computed on the operation
// with its coerced variables and argument defaults (graphql-query-complexity): one point per
// field, and list fields multiply their selection by the items they ask for (the `complexity` of
// each list field, modules/common/complexity.ts). It cannot be a validation rule, which never sees
// variables: `orders(first: $n)` would count as one item however large `$n` is.
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import { ApolloServerErrorCode } from '@apollo/server/errors';
import { GraphQLError, TypeInfo, getOperationAST, visit, visitWithTypeInfo, type DocumentNode, type GraphQLSchema, type ValueNode } from 'graphql';
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

/**
 * The names of the variables an operation's cost can depend on: those in the arguments of fields
 * with a cost of their own (a `complexity` extension: list sizes) and in `@skip`/`@include`. No
 * other variable changes what the estimators compute.
 */
export function variablesThatSizeTheCost(schema: GraphQLSchema, document: DocumentNode): string[] {
  const typeInfo = new TypeInfo(schema);
  const names = new Set<string>();
  const collect = (value: ValueNode): void => {
    visit(value, { Variable: (variable) => void names.add(variable.name.value) });
  };
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(field) {
        if (typeInfo.getFieldDef()?.extensions?.complexity === undefined) return;
        for (const argument of field.arguments ?? []) collect(argument.value);
      },
      Directive(directive) {
        if (directive.name.value !== 'skip' && directive.name.value !== 'include') return;
        for (const argument of directive.arguments ?? []) collect(argument.value);
      },
    }),
  );
  return [...names];
}

/** Costs remembered per document (Apollo hands out the same parsed document for the same text). */
const COSTS_PER_DOCUMENT = 64;

/**
 * operationCost, remembered per document and the values of the variables that size its cost: a
 * mutation such as placeOrder is costed once, not walked again for every order. Variables are
 * still checked on every call (an operation whose variables do not coerce is not costed).
 */
function rememberingOperationCost(schema: GraphQLSchema): (operation: OperationToCost) => number | undefined {
  // null: seen once. A document is walked for its sizing variables only when it comes again (a
  // subscription's, parsed per subscribe, never does).
  const byDocument = new WeakMap<DocumentNode, { sizing: string[]; costs: Map<string, number> } | null>();
  return (operation) => {
    let known = byDocument.get(operation.document);
    if (known === undefined) {
      byDocument.set(operation.document, null);
      return operationCost(schema, operation);
    }
    if (known === null) {
      known = { sizing: variablesThatSizeTheCost(schema, operation.document), costs: new Map() };
      byDocument.set(operation.document, known);
    }
    const variables = operation.variables ?? {};
    const key = JSON.stringify([operation.operationName ?? null, known.sizing.map((name) => (name in variables ? [variables[name]] : []))]);
    const remembered = known.costs.get(key);
    if (remembered === undefined) {
      const cost = operationCost(schema, operation);
      if (cost === undefined) return undefined;
      if (known.costs.size >= COSTS_PER_DOCUMENT) known.costs.clear();
      known.costs.set(key, cost);
      return cost;
    }
    const definition = getOperationAST(operation.document, operation.operationName ?? undefined);
    if (!definition || getVariableValues(schema, definition.variableDefinitions ?? [], variables).errors) return undefined;
    return remembered;
  };
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
  const costOf = rememberingOperationCost(schema);
  return {
    async admit(operation, subject) {
      const cost = costOf(operation);
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
