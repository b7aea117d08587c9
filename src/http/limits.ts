// Operation limits shared by HTTP and the websocket, so neither is the cheaper way in.
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { GraphQLError, type ValidationContext, type ValidationRule } from 'graphql';

export interface OperationLimits {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  /** Lexer tokens per document; stops giant documents before they are parsed into memory. */
  maxTokens: number;
}

/**
 * By default graphql-armor throws from inside validation, which servers treat as a crash (500).
 * Reporting instead makes a rejected operation an ordinary validation error (400).
 */
const reportAsValidationError = {
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) =>
      context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ''))),
  ],
};

export function createValidationRules(limits: OperationLimits): ValidationRule[] {
  return [
    maxDepthRule({ n: limits.maxDepth, ...reportAsValidationError }),
    costLimitRule({ maxCost: limits.maxCost, ...reportAsValidationError }),
    maxAliasesRule({ n: limits.maxAliases, ...reportAsValidationError }),
  ] as ValidationRule[];
}
