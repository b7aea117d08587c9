// Operation limits shared by HTTP and the websocket, so neither is the cheaper way in. Depth and
// aliases are validation rules; cost needs the variables, so it is checked once they are known
// (cost.ts), and response size once the response exists (response-size.ts).
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { GraphQLError, type ValidationContext, type ValidationRule } from 'graphql';

export interface OperationLimits {
  maxDepth: number;
  /** Highest cost of one operation (cost.ts); also the most one operation takes from a cost budget. */
  maxCost: number;
  maxAliases: number;
  /** Lexer tokens per document; stops giant documents before they are parsed into memory. */
  maxTokens: number;
  /** Largest serialized HTTP response body, in bytes (response-size.ts). */
  maxResponseBytes: number;
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

export function createValidationRules(limits: Pick<OperationLimits, 'maxDepth' | 'maxAliases'>): ValidationRule[] {
  return [
    maxDepthRule({ n: limits.maxDepth, ...reportAsValidationError }),
    maxAliasesRule({ n: limits.maxAliases, ...reportAsValidationError }),
  ] as ValidationRule[];
}
