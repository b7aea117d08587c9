// Which documents may be answered from the response cache: a query (not a mutation or
// subscription) whose root fields are all declared cacheable by their modules (the
// RESPONSE_CACHE_EXTENSION on the Query field: it reads only through the loaders, whose cache keys
// guard a cached response), without an argument that makes it read around them. Anything else
// (notifications, top products, a product search, introspection, fragments at the root) always
// executes. Documents whose root fields are all public are shared by all viewers; the rest are
// cached per viewer. Decided once per document text and operation name.
//
// Also the canonical form a cached response is keyed on, so that a client cannot mint new keys
// with things that do not change the answer: the document without whitespace and comments, and
// only the variables the operation declares, coerced by the schema (defaults applied, input
// fields in schema order). Undeclared variables are never read, however deeply nested.
import { createHash } from 'node:crypto';
import {
  getNamedType,
  getOperationAST,
  getVariableValues,
  Kind,
  parse,
  stripIgnoredCharacters,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type VariableDefinitionNode,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { cacheTypeKey, type CacheType } from '../cache/cache-type';
import { RESPONSE_CACHE_EXTENSION, type CacheableField } from '../cache/response-cache';

/** The longest request text whose canonical form is remembered by its text (client input: bounded). */
const MAX_REMEMBERED_TEXT = 4_000;

/** Shared by every viewer ('public'), one per viewer ('viewer'), or not cached (null). */
export type ResponseScope = 'public' | 'viewer' | null;

/** A cacheable request in canonical form: equal for every request that gets the same answer. */
export interface CanonicalRequest {
  scope: 'public' | 'viewer';
  /** Digest of the canonical document and operation name, then the coerced declared variables (JSON). */
  operation: string;
  /** Cache types whose volatile part the document reads (see ResponseDependencies). */
  readsVolatileOf: ReadonlySet<string>;
  /** The operation's name in the document (null: anonymous), for metrics and the access log. */
  operationName: string | null;
}

/** Whose answer a canonical request is: everyone's for a public one, else the viewer's (their id and role). */
export function viewerScopeOf(request: Pick<CanonicalRequest, 'scope'>, viewer: { id: number; role: string } | null | undefined): string {
  if (request.scope === 'public') return 'public';
  return viewer ? `${viewer.id}:${viewer.role}` : 'anonymous';
}

interface Decision {
  scope: ResponseScope;
  /** Digest of the document without ignored characters, and the operation's name. */
  documentDigest: string;
  variableDefinitions: readonly VariableDefinitionNode[];
  readsVolatileOf: ReadonlySet<string>;
  operationName: string | null;
}

const NOT_CACHEABLE: Decision = { scope: null, documentDigest: '', variableDefinitions: [], readsVolatileOf: new Set(), operationName: null };

/** How the root field `name` may be cached, as its module declared it (`__typename` is public). */
function cacheableField(schema: GraphQLSchema, name: string): CacheableField | undefined {
  if (name === '__typename') return { scope: 'public' };
  return schema.getQueryType()?.getFields()[name]?.extensions[RESPONSE_CACHE_EXTENSION] as CacheableField | undefined;
}

/**
 * Decides which documents may be answered from the response cache, and in what canonical form.
 * Bounded by text size too: documents are client input. A decision keeps only a digest and the
 * variable definitions, never the document.
 */
export class CacheableQueries {
  private readonly decisions = new LRUCache<string, Decision>({ max: 1000, maxSize: 4_000_000, sizeCalculation: (_decision, key) => key.length });
  /** Canonical forms by the request's JSON text (see canonicalRequestOfText); `null` kept as a value too. */
  private readonly canonicalByText = new LRUCache<string, { canonical: CanonicalRequest | null }>({
    max: 10_000,
    maxSize: 4_000_000,
    sizeCalculation: (_canonical, text) => text.length,
  });

  constructor(
    private readonly schema: GraphQLSchema,
    /** The parse limit every operation gets (GRAPHQL_MAX_TOKENS). */
    private readonly maxTokens: number,
    /** The cache types with a volatile part (a product's stock). */
    private readonly volatileTypes: ReadonlyArray<CacheType<never, unknown>> = [],
  ) {}

  /**
   * The canonical form of a cacheable request, or null when it is not cacheable or its variables
   * do not coerce (Apollo then answers the error, BAD_USER_INPUT).
   */
  canonicalRequest(query: string, operationName: unknown, variables: unknown): CanonicalRequest | null {
    const decision = this.decisionFor(query, operationName);
    if (decision.scope === null) return null;
    const inputs = variables ?? {};
    if (typeof inputs !== 'object' || Array.isArray(inputs)) return null;
    let result;
    try {
      result = getVariableValues(this.schema, decision.variableDefinitions, inputs as Record<string, unknown>, { maxErrors: 1 });
    } catch {
      return null;
    }
    if (result.errors) return null;
    // Coerced values are only as deep as the declared input types, so this cannot overflow.
    return {
      scope: decision.scope,
      operation: `${decision.documentDigest}\n${JSON.stringify(result.coerced)}`,
      readsVolatileOf: decision.readsVolatileOf,
      operationName: decision.operationName,
    };
  }

  /**
   * `canonicalRequest` of a body parsed from `text`, remembered by the text: a request sent again
   * (what a cache answers) costs a lookup instead of coercing its variables and building the
   * canonical string again. Texts longer than MAX_REMEMBERED_TEXT are not remembered.
   */
  canonicalRequestOfText(text: string, body: { query: string; operationName?: unknown; variables?: unknown }): CanonicalRequest | null {
    if (text.length > MAX_REMEMBERED_TEXT) return this.canonicalRequest(body.query, body.operationName, body.variables);
    let remembered = this.canonicalByText.get(text);
    if (!remembered) this.canonicalByText.set(text, (remembered = { canonical: this.canonicalRequest(body.query, body.operationName, body.variables) }));
    return remembered.canonical;
  }

  private decisionFor(query: string, operationName: unknown): Decision {
    const name = typeof operationName === 'string' ? operationName : undefined;
    const cacheKey = `${name ?? ''}\n${query}`;
    let decision = this.decisions.get(cacheKey);
    if (decision === undefined) this.decisions.set(cacheKey, (decision = this.decide(query, name)));
    return decision;
  }

  private decide(query: string, operationName: string | undefined): Decision {
    let document;
    try {
      document = parse(query, { maxTokens: this.maxTokens, noLocation: true });
    } catch {
      return NOT_CACHEABLE;
    }
    const operation = getOperationAST(document, operationName);
    if (!operation || operation.operation !== 'query') return NOT_CACHEABLE;
    const rootFields = operation.selectionSet.selections;
    const declared = rootFields.map((selection) => (selection.kind === Kind.FIELD ? cacheableField(this.schema, selection.name.value) : undefined));
    const isCacheable = declared.every(
      (field, index) =>
        field !== undefined &&
        !(rootFields[index] as FieldNode).arguments?.some((argument) => field.unlessArguments?.includes(argument.name.value)),
    );
    if (!isCacheable) return NOT_CACHEABLE;
    // Stripping (linear, never longer than the text) rather than print(), whose indentation grows
    // with the depth of the document: a deep document would print to megabytes.
    const documentDigest = createHash('sha1')
      .update(`${operation.name?.value ?? ''}\n${stripIgnoredCharacters(query)}`)
      .digest('base64url');
    return {
      scope: declared.every((field) => field?.scope === 'public') ? 'public' : 'viewer',
      documentDigest,
      variableDefinitions: operation.variableDefinitions ?? [],
      readsVolatileOf: this.volatilePartsRead(document),
      operationName: operation.name?.value ?? null,
    };
  }

  /**
   * The cache types whose volatile part the document reads: it selects, anywhere (fragments
   * included, used or not), a field of the type's GraphQL type outside its stable fields.
   */
  private volatilePartsRead(document: DocumentNode): Set<string> {
    const read = new Set<string>();
    if (this.volatileTypes.length === 0) return read;
    const typeInfo = new TypeInfo(this.schema);
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field: (field) => {
          const parent = typeInfo.getParentType();
          const parentName = parent && getNamedType(parent).name;
          for (const type of this.volatileTypes) {
            const part = type.volatilePart!;
            if (part.graphqlType === parentName && !part.stableFields.includes(field.name.value)) read.add(cacheTypeKey(type));
          }
        },
      }),
    );
    return read;
  }
}
