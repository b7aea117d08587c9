// Field costs for the operation cost limit (http/cost.ts), attached to list fields with
// type-graphql's `complexity` option. graphql-query-complexity calls them with the field's
// arguments already coerced (variables and defaults applied), so `first: $n` costs what `$n` says.
import type { ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './pagination';

/**
 * How many items a list argument asks for, as the resolver will read it: absent means its default,
 * and values outside 0..max are clamped (the resolver rejects them with BAD_USER_INPUT anyway).
 */
function requestedLength(value: unknown, defaultLength: number, maxLength: number): number {
  const length = typeof value === 'number' && Number.isFinite(value) ? value : defaultLength;
  return Math.min(Math.max(length, 0), maxLength);
}

/** A list field sized by an argument: one point, plus each item's selection times the items asked for. */
export function sizedListComplexity(argumentName: string, defaultLength: number, maxLength: number): ComplexityEstimator {
  return ({ args, childComplexity }) => 1 + childComplexity * requestedLength(args[argumentName], defaultLength, maxLength);
}

/** A connection taking PageArgs: its selection (edges, pageInfo) counts once per row of the page. */
export const pageComplexity = sizedListComplexity('first', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);

/** A list without a size argument, counted as `expectedLength` items. */
export function fixedListComplexity(expectedLength: number): ComplexityEstimator {
  return ({ childComplexity }) => 1 + childComplexity * expectedLength;
}
