// How subscription-core.ts runs a `query @live` (live/live-query-store.ts does the keeping): only
// a query whose root fields are all declared cacheable may be live, because only their reads go
// through the loaders that record dependencies (anything else would never be refreshed, silently);
// another is refused with BAD_REQUEST. Identical live queries share one execution: the key is the
// response cache's canonical request (document, declared variables) and viewer scope. Each
// execution gets fresh loaders (DataLoader caches per request) recording into fresh dependencies.
//
// Over plain HTTP `@live` is ignored: one result, as @n1ru4l/graphql-live-query's convention has
// it for transports that cannot stream. The viewer's session is not checked per execution: the
// execution is shared by every session of the viewer, and a revoked or expired session closes its
// websocket or SSE stream (socket-sessions.ts), which ends its live queries with it.
import { execute, getOperationAST, Kind, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { RequestInfo } from '../auth/viewer';
import { RESPONSE_CACHE_EXTENSION } from '../cache/response-cache';
import { AppError, ErrorCode } from '../errors';
import { LiveDependencies } from '../live/live-dependencies';
import type { LiveQueryStore } from '../live/live-query-store';
import { asJSONPatches } from '../live/live-patches';
import type { Authentication } from './auth-header';
import { viewerScopeOf, type CacheableQueries } from './cacheable-query';

export interface LiveOperationsOptions<Context> {
  schema: GraphQLSchema;
  /** The response cache's decisions (one instance per server: its parsed documents are shared). */
  queries: CacheableQueries;
  store: LiveQueryStore;
  /** A fresh context for one execution, its loaders recording into `request.dependencies`. */
  createContext(authentication: Authentication, request: RequestInfo): Context;
}

/** What keyOf tells of a query that can be live. */
export interface LiveKey {
  /** What identical live queries share. */
  key: string;
  /** Cache types whose volatile part the query reads: it runs again when only that part changes. */
  readsVolatileOf: ReadonlySet<string>;
}

export interface LiveOperation extends LiveKey {
  /** The client asked for JSON patches after the first result (`@live(patch: true)`). */
  patch?: boolean;
  throttleMs?: number;
  authentication: Authentication;
  request: RequestInfo;
}

export function createLiveOperations<Context>(options: LiveOperationsOptions<Context>) {
  const { queries } = options;
  /** Prepared live operations, by their first context (graphql-ws hands execute the same args). */
  const prepared = new WeakMap<object, LiveOperation>();
  let executionCount = 0;

  /** The root fields of the query that cannot be live (the modules did not declare them cacheable). */
  const uncacheableFields = (document: DocumentNode, operationName: unknown): string[] => {
    const fields = options.schema.getQueryType()?.getFields() ?? {};
    const operation = getOperationAST(document, typeof operationName === 'string' ? operationName : undefined);
    return (operation?.selectionSet.selections ?? []).flatMap((selection) => {
      if (selection.kind !== Kind.FIELD) return ['(a fragment at the root)'];
      const name = selection.name.value;
      return name === '__typename' || fields[name]?.extensions[RESPONSE_CACHE_EXTENSION] ? [] : [name];
    });
  };

  return {
    /** The key identical live queries share, or why this (validated) query with @live cannot be live. */
    keyOf(document: DocumentNode, payload: { query: string; operationName?: unknown; variables?: unknown }, authentication: Authentication): LiveKey | AppError {
      const canonical = queries.canonicalRequest(payload.query, payload.operationName, payload.variables);
      if (canonical === null) {
        const fields = uncacheableFields(document, payload.operationName);
        const why = fields.length
          ? `only fields read through the cache can be, not ${fields.map((field) => `"${field}"`).join(', ')}`
          : 'it has an argument that reads around the cache, or variables that do not coerce';
        return new AppError(ErrorCode.BadRequest, `This query cannot be live: ${why}.`);
      }
      return { key: `${viewerScopeOf(canonical, authentication.viewer)}\n${canonical.operation}`, readsVolatileOf: canonical.readsVolatileOf };
    },

    /** Marks the operation of `contextValue` (its first context) as live: `execute` streams it. */
    remember(contextValue: unknown, operation: LiveOperation): void {
      prepared.set(contextValue as object, operation);
    },

    /** graphql-ws's and SSE's execute: a registered live query's results, else one result. */
    execute(args: ExecutionArgs): AsyncIterableIterator<ExecutionResult> | ReturnType<typeof execute> {
      const live = prepared.get(args.contextValue as object);
      if (!live) return execute(args);
      const run = async () => {
        const dependencies = new LiveDependencies(live.readsVolatileOf);
        executionCount += 1;
        const request = { ...live.request, requestId: `${live.request.requestId}-live-${executionCount}`, dependencies };
        const result = await execute({ ...args, contextValue: options.createContext(live.authentication, request) });
        return { result, dependencies };
      };
      const results = options.store.subscribe(live.key, run, live.throttleMs);
      return live.patch ? asJSONPatches(results) : results;
    },

    isLive(args: ExecutionArgs): boolean {
      return prepared.has(args.contextValue as object);
    },
  };
}

export type LiveOperations = ReturnType<typeof createLiveOperations>;
