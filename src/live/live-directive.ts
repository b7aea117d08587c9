// The `@live` directive, as `@n1ru4l/graphql-live-query` spells it (`directive @live(if: Boolean =
// true, throttle: Int) on QUERY`), so its clients and tooling recognise it, with one argument of
// ours: `patch`, the client's opt-in to JSON patches after the first result (live-patches.ts).
// Declared here rather than imported: that package brings only this definition and a predicate,
// not worth a dependency.
import {
  DirectiveLocation,
  getDirectiveValues,
  getOperationAST,
  GraphQLBoolean,
  GraphQLDirective,
  GraphQLInt,
  type DocumentNode,
} from 'graphql';

export const GraphQLLiveDirective = new GraphQLDirective({
  name: 'live',
  description:
    'Over graphql-ws or Server-Sent Events: the result now, then a new one whenever something it read changes. Over plain HTTP: one result, as without it.',
  locations: [DirectiveLocation.QUERY],
  args: {
    if: { type: GraphQLBoolean, defaultValue: true, description: 'False: an ordinary query.' },
    throttle: { type: GraphQLInt, description: 'Least milliseconds between two results (never less than the server\'s LIVE_QUERY_THROTTLE_MS).' },
    patch: {
      type: GraphQLBoolean,
      defaultValue: false,
      description:
        'True: after the first result ({ data, revision: 1 }), each new one is sent as a JSON patch (RFC 6902) of the previous ({ patch, revision }), as applyLiveQueryJSONPatch of @n1ru4l/graphql-live-query-patch-json-patch applies it.',
    },
  },
});

/** The live settings of the operation, or null when it is not a live query (`@live(if: false)` included). */
export function liveDirectiveOf(
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): { throttleMs?: number; patch: boolean } | null {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'query') return null;
  const values = getDirectiveValues(GraphQLLiveDirective, operation, variables ?? {});
  if (!values || values.if === false) return null;
  return { ...(typeof values.throttle === 'number' && { throttleMs: values.throttle }), patch: values.patch === true };
}
