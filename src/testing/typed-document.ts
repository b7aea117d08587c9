// Results typed by the document: codegen's client preset emits `TypedDocumentNode<Result, Variables>`
// (@graphql-typed-document-node/core), a DocumentNode carrying its types in an optional phantom
// field. The same shape is declared here, so the kit needs no dependency for it and any such
// document (codegen's, or one typed by hand) types `execute` and `subscribe`.
import type { DocumentNode, GraphQLFormattedError } from 'graphql';

export interface TypedDocument<Result = Record<string, unknown>, Variables = Record<string, unknown>> extends DocumentNode {
  /** Never set at run time: carries the types (the field codegen's TypedDocumentNode declares). */
  __apiType?: (variables: Variables) => Result;
}

/** What a document's operation returns (`Record<string, unknown>` for an untyped one). */
export type ResultOf<Document> = Document extends { __apiType?: (variables: never) => infer Result } ? Result : Record<string, unknown>;
/** The variables a document's operation takes. */
export type VariablesOf<Document> = Document extends { __apiType?: (variables: infer Variables) => unknown } ? Variables : Record<string, unknown>;

/** A GraphQL response as a client gets it, errors formatted (masked) as they are sent. */
export interface GraphQLResult<Data> {
  data?: Data | null;
  errors?: ReadonlyArray<GraphQLFormattedError>;
}

/** A document as text (a `gql`-free string) or parsed/typed. */
export type OperationDocument = string | DocumentNode;
