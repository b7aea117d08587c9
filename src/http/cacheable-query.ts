// Which documents may be answered from the response cache: a query (not a mutation or
// subscription) whose root fields all read through the loaders, and so through the cache types
// whose generations guard a cached response. Anything else (notifications, top products, a
// product search, introspection, fragments at the root) always executes. Catalogue-only
// documents are shared by all viewers; the rest are cached per viewer. Decided once per document
// text and operation name.
import { getOperationAST, Kind, parse, type FieldNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/** Root fields resolved only through cached loaders (and, for `products`, only without `search`). */
const CACHEABLE_ROOT_FIELDS = new Set(['product', 'products', 'order', 'orders', 'user', 'users', 'me', '__typename']);
/** Root fields whose answer is the same for every viewer (the catalogue is public). */
const PUBLIC_ROOT_FIELDS = new Set(['product', 'products', '__typename']);

/** Shared by every viewer ('public'), one per viewer ('viewer'), or not cached (null). */
export type ResponseScope = 'public' | 'viewer' | null;

// Bounded by text size too: documents are client input.
const decisions = new LRUCache<string, { scope: ResponseScope }>({ max: 1000, maxSize: 4_000_000, sizeCalculation: (_decision, key) => key.length });

function decide(query: string, operationName: string | undefined): ResponseScope {
  let document;
  try {
    document = parse(query, { maxTokens: 5000 });
  } catch {
    return null;
  }
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'query') return null;
  const rootFields = operation.selectionSet.selections;
  const isCacheable = rootFields.every(
    (selection): selection is FieldNode =>
      selection.kind === Kind.FIELD &&
      CACHEABLE_ROOT_FIELDS.has(selection.name.value) &&
      !(selection.name.value === 'products' && selection.arguments?.some((argument) => argument.name.value === 'search')),
  );
  if (!isCacheable) return null;
  return (rootFields as FieldNode[]).every((field) => PUBLIC_ROOT_FIELDS.has(field.name.value)) ? 'public' : 'viewer';
}

export function responseScope(query: string, operationName: unknown): ResponseScope {
  const name = typeof operationName === 'string' ? operationName : undefined;
  const cacheKey = `${name ?? ''}\n${query}`;
  let decision = decisions.get(cacheKey);
  if (decision === undefined) decisions.set(cacheKey, (decision = { scope: decide(query, name) }));
  return decision.scope;
}
