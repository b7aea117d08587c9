// Which documents may be answered from the response cache: a query (not a mutation or
// subscription) whose root fields all read through the loaders, and so through the cache types
// whose generations guard a cached response. Anything else (notifications, top products, a
// product search, introspection, fragments at the root) always executes. Decided once per
// document text and operation name.
import { getOperationAST, Kind, parse, type FieldNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/** Root fields resolved only through cached loaders (and, for `products`, only without `search`). */
const CACHEABLE_ROOT_FIELDS = new Set(['product', 'products', 'order', 'orders', 'user', 'users', 'me', '__typename']);

// Bounded by text size too: documents are client input.
const decisions = new LRUCache<string, boolean>({ max: 1000, maxSize: 4_000_000, sizeCalculation: (_decision, key) => key.length });

function decide(query: string, operationName: string | undefined): boolean {
  let document;
  try {
    document = parse(query, { maxTokens: 5000 });
  } catch {
    return false;
  }
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'query') return false;
  return operation.selectionSet.selections.every(
    (selection): selection is FieldNode =>
      selection.kind === Kind.FIELD &&
      CACHEABLE_ROOT_FIELDS.has(selection.name.value) &&
      !(selection.name.value === 'products' && selection.arguments?.some((argument) => argument.name.value === 'search')),
  );
}

export function isCacheableQuery(query: string, operationName: unknown): boolean {
  const name = typeof operationName === 'string' ? operationName : undefined;
  const cacheKey = `${name ?? ''}\n${query}`;
  let decision = decisions.get(cacheKey);
  if (decision === undefined) decisions.set(cacheKey, (decision = decide(query, name)));
  return decision;
}
