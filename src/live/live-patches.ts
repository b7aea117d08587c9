// A live query's results as JSON patches (RFC 6902), for clients that ask with `@live(patch: true)`:
// the first result whole ({ data, revision: 1 }), then each new one as the patch from the one before
// ({ patch, revision }), in the wire format of @n1ru4l/graphql-live-query-patch-json-patch, whose
// applyLiveQueryJSONPatch puts the results back together on the client. Each client has its own
// revisions: a shared execution's results (live-query-store.ts) are diffed per client, against what
// that client was sent.
import type { liveQueryJSONPatchGenerator as PatchGenerator } from '@n1ru4l/graphql-live-query-patch-json-patch' with { 'resolution-mode': 'import' };

// The package's typings are marked ESM (its package.json says "type": "module") though it ships
// CommonJS for require: TypeScript refuses a static import of it here, Node runs the require fine.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { liveQueryJSONPatchGenerator } = require('@n1ru4l/graphql-live-query-patch-json-patch') as { liveQueryJSONPatchGenerator: typeof PatchGenerator };
import type { ExecutionResult } from 'graphql';

export function asJSONPatches(results: AsyncIterableIterator<ExecutionResult>): AsyncIterableIterator<ExecutionResult> {
  return liveQueryJSONPatchGenerator(markedLive(results)) as AsyncIterableIterator<ExecutionResult>;
}

/**
 * The results marked `isLive`, as the generator patches only those (the library's LiveExecutionResult).
 * Not an async generator: a client leaving must end the store's iterator at once, while a
 * generator's return would wait behind its pending next(), which no result may ever answer.
 */
function markedLive(results: AsyncIterableIterator<ExecutionResult>): AsyncIterableIterator<ExecutionResult & { isLive: true }> {
  return {
    next: async () => {
      const next = await results.next();
      return next.done ? next : { value: { ...next.value, isLive: true }, done: false };
    },
    return: async () => {
      await results.return?.();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
