// Resuming a subscription from a cursor the transport carries rather than the document: a browser's
// EventSource reconnects with the last event's id in `Last-Event-ID` and the same URL it first
// opened, whose `after` is stale. Rewriting the root field's `after` argument sends that cursor down
// the one resume path every subscription already has (openFeed: BAD_USER_INPUT when malformed,
// CURSOR_EXPIRED when trimmed, gap-free otherwise); no resolver knows the transport.
import { Kind, getOperationAST, type ArgumentNode, type DocumentNode, type GraphQLSchema } from 'graphql';

/** The argument every resumable subscription field takes (modules/common/stream-event.ts). */
export const RESUME_ARGUMENT = 'after';

/**
 * The document with `after: "<cursor>"` on the subscription's root field, replacing any `after` it
 * had (the cursor is newer than what the document was written with). Unchanged when the operation
 * is not a subscription, its root field is reached through a fragment, or the field takes no
 * `after` (it cannot resume: it starts from now, as on any reconnect).
 */
export function resumeAfterCursor(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, cursor: string): DocumentNode {
  const operation = getOperationAST(document, operationName);
  const field = operation?.operation === 'subscription' ? operation.selectionSet.selections[0] : undefined;
  if (!operation || field?.kind !== Kind.FIELD) return document;
  const definition = schema.getSubscriptionType()?.getFields()[field.name.value];
  if (!definition?.args.some((argument) => argument.name === RESUME_ARGUMENT)) return document;
  const resumeArgument: ArgumentNode = {
    kind: Kind.ARGUMENT,
    name: { kind: Kind.NAME, value: RESUME_ARGUMENT },
    value: { kind: Kind.STRING, value: cursor },
  };
  const resumedField = {
    ...field,
    arguments: [...(field.arguments ?? []).filter((argument) => argument.name.value !== RESUME_ARGUMENT), resumeArgument],
  };
  const resumedOperation = {
    ...operation,
    selectionSet: { ...operation.selectionSet, selections: [resumedField, ...operation.selectionSet.selections.slice(1)] },
  };
  return { ...document, definitions: document.definitions.map((definition) => (definition === operation ? resumedOperation : definition)) };
}
