// Which documents may be answered from the response cache: a query (not a mutation or
// subscription) whose root fields all read through the loaders, and so through the cache types
// whose generations guard a cached response. Anything else (notifications, top products, a
// product search, introspection, fragments at the root) always executes. Catalogue-only
// documents are shared by all viewers; the rest are cached per viewer. Decided once per document
// text and operation name.
//
// Also the canonical form a cached response is keyed on, so that a client cannot mint new keys
// with things that do not change the answer: the document without whitespace and comments, and
// only the variables the operation declares, coerced by the schema (defaults applied, input
// fields in schema order). Undeclared variables are never read, however deeply nested.
import { createHash } from 'node:crypto';
import {
  getOperationAST,
  getVariableValues,
  Kind,
  parse,
  stripIgnoredCharacters,
  type FieldNode,
  type GraphQLSchema,
  type VariableDefinitionNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';

/** Root fields resolved only through cached loaders (and, for `products`, only without `search`). */
const CACHEABLE_ROOT_FIELDS = new Set(['product', 'products', 'order', 'orders', 'user', 'users', 'me', '__typename']);
/** Root fields whose answer is the same for every viewer (the catalogue is public). */
const PUBLIC_ROOT_FIELDS = new Set(['product', 'products', '__typename']);

/** Shared by every viewer ('public'), one per viewer ('viewer'), or not cached (null). */
export type ResponseScope = 'public' | 'viewer' | null;

/** A cacheable request in canonical form: equal for every request that gets the same answer. */
export interface CanonicalRequest {
  scope: 'public' | 'viewer';
  /** Digest of the canonical document and operation name, then the coerced declared variables (JSON). */
  operation: string;
}

interface Decision {
  scope: ResponseScope;
  /** Digest of the document without ignored characters, and the operation's name. */
  documentDigest: string;
  variableDefinitions: readonly VariableDefinitionNode[];
}

const NOT_CACHEABLE: Decision = { scope: null, documentDigest: '', variableDefinitions: [] };

// Bounded by text size too: documents are client input. A decision keeps only a digest and the
// variable definitions, never the document.
const decisions = new LRUCache<string, Decision>({ max: 1000, maxSize: 4_000_000, sizeCalculation: (_decision, key) => key.length });

function decide(query: string, operationName: string | undefined): Decision {
  let document;
  try {
    document = parse(query, { maxTokens: 5000, noLocation: true });
  } catch {
    return NOT_CACHEABLE;
  }
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'query') return NOT_CACHEABLE;
  const rootFields = operation.selectionSet.selections;
  const isCacheable = rootFields.every(
    (selection): selection is FieldNode =>
      selection.kind === Kind.FIELD &&
      CACHEABLE_ROOT_FIELDS.has(selection.name.value) &&
      !(selection.name.value === 'products' && selection.arguments?.some((argument) => argument.name.value === 'search')),
  );
  if (!isCacheable) return NOT_CACHEABLE;
  // Stripping (linear, never longer than the text) rather than print(), whose indentation grows
  // with the depth of the document: a deep document would print to megabytes.
  const documentDigest = createHash('sha1')
    .update(`${operation.name?.value ?? ''}\n${stripIgnoredCharacters(query)}`)
    .digest('base64url');
  return {
    scope: (rootFields as FieldNode[]).every((field) => PUBLIC_ROOT_FIELDS.has(field.name.value)) ? 'public' : 'viewer',
    documentDigest,
    variableDefinitions: operation.variableDefinitions ?? [],
  };
}

function decisionFor(query: string, operationName: unknown): Decision {
  const name = typeof operationName === 'string' ? operationName : undefined;
  const cacheKey = `${name ?? ''}\n${query}`;
  let decision = decisions.get(cacheKey);
  if (decision === undefined) decisions.set(cacheKey, (decision = decide(query, name)));
  return decision;
}

/**
 * The canonical form of a cacheable request, or null when it is not cacheable or its variables
 * do not coerce (Apollo then answers the error, BAD_USER_INPUT).
 */
export function canonicalRequest(schema: GraphQLSchema, query: string, operationName: unknown, variables: unknown): CanonicalRequest | null {
  const decision = decisionFor(query, operationName);
  if (decision.scope === null) return null;
  const inputs = variables ?? {};
  if (typeof inputs !== 'object' || Array.isArray(inputs)) return null;
  let result;
  try {
    result = getVariableValues(schema, decision.variableDefinitions, inputs as Record<string, unknown>, { maxErrors: 1 });
  } catch {
    return null;
  }
  if (result.errors) return null;
  // Coerced values are only as deep as the declared input types, so this cannot overflow.
  return { scope: decision.scope, operation: `${decision.documentDigest}\n${JSON.stringify(result.coerced)}` };
}
