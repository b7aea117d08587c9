// Operation limits shared by HTTP and the websocket, so neither is the cheaper way in.
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import type { ValidationRule } from 'graphql';

export interface OperationLimits {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  /** Lexer tokens per document; stops giant documents before they are parsed into memory. */
  maxTokens: number;
}

export function createValidationRules(limits: OperationLimits): ValidationRule[] {
  return [
    maxDepthRule({ n: limits.maxDepth }),
    costLimitRule({ maxCost: limits.maxCost }),
    maxAliasesRule({ n: limits.maxAliases }),
  ] as ValidationRule[];
}
