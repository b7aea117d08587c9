// Which document a request runs, and whether it is trusted: one decision for HTTP (GET and POST,
// trusted-documents-http.ts) and the websocket (graphql-ws subscribe payloads, websocket.ts).
//
// A request names its document by text (`query`), by id alone, or both. Ids come in two shapes:
// `documentId` ("sha256:<hex>" or bare hex, the GraphQL-over-HTTP persisted documents convention,
// what codegen's `__meta__.hash` holds) and `extensions.persistedQuery.sha256Hash` (Apollo's
// automatic persisted queries). Both are looked up in the trusted documents first, then among the
// APQ registrations every replica shares in Redis (trusted-documents-apq-cache.ts).
//
// With trusted documents (GRAPHQL_TRUSTED_DOCUMENTS), a document is "in the list" when its
// normalized text (codegen's own normalization: definitions and selections sorted, whitespace
// reduced) is listed, so a client sending `print(document)` of a generated document matches. In
// audit mode a document outside the list runs and is reported; in enforce mode it is refused
// before it is validated, executed, answered from the response cache or registered, and hashes
// resolve from the list alone (an APQ registration can never be what makes a document run).
import { printExecutableGraphQLDocument } from '@graphql-tools/documents';
import { getOperationAST, parse, type GraphQLError } from 'graphql';
import { LRUCache } from 'lru-cache';
import { AppError, ErrorCode } from '../errors';
import type { Logger } from '../logger';
import { sha256Hex, type TrustedDocumentList } from './trusted-documents-file';

export type TrustedDocumentsMode = 'audit' | 'enforce';
export type DocumentTransport = 'http' | 'websocket';

/** The fields a request names its document with: a GraphQL-over-HTTP request, or a graphql-ws subscribe payload. */
export interface DocumentReference {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
  operationName?: unknown;
}

/** The APQ registrations (read side): text by SHA-256 hex; undefined when unknown. */
export interface PersistedQueryStore {
  get(hash: string): Promise<string | undefined>;
}

export interface ResolvedDocument {
  /** The text to run (as sent, or looked up by its id); undefined when the request named none (Apollo answers that). */
  query: string | undefined;
  /**
   * An APQ registration: the query came with its hash, is outside the list and not refused. HTTP
   * keeps the persistedQuery extension so Apollo stores it; otherwise the extension is dropped.
   */
  registerHash?: string;
}

/** A request refused before anything ran: each transport shapes it (HTTP body and status, websocket error). */
export class DocumentRejection extends Error {
  override readonly name = 'DocumentRejection';

  constructor(
    readonly code: ErrorCode.BadRequest | ErrorCode.PersistedQueryNotFound | ErrorCode.PersistedQueryNotInList,
    message: string,
  ) {
    super(message);
  }

  /** Apollo's status for each: 200 for PERSISTED_QUERY_NOT_FOUND (clients then resend with the query), else 400. */
  get httpStatus(): number {
    return this.code === ErrorCode.PersistedQueryNotFound ? 200 : 400;
  }
}

/** A document outside the trusted documents, as the metric counts and the log shows it (never variables). */
export interface OutsideListReport {
  /** The operation's name (sent, or the document's only one); null when anonymous or unknown. */
  operationName: string | null;
  /** "sha256:<hex>" of the normalized text: the id it would have in the list (of the text as sent when it does not parse). */
  documentId: string;
  outcome: 'run' | 'rejected';
  transport: DocumentTransport;
}

export interface PersistedDocumentsOptions {
  /** The safelist and what to do with documents outside it; absent: every document runs (APQ only). */
  trusted?: { list: TrustedDocumentList; mode: TrustedDocumentsMode };
  /** Where APQ registrations are read (and Apollo writes them). */
  apq: PersistedQueryStore;
  /** GRAPHQL_MAX_TOKENS: documents are parsed (to normalize them) under the same limit as for execution. */
  maxTokens: number;
  onOutsideList(report: OutsideListReport): void;
  /** The APQ store could not be read: the request is answered PERSISTED_QUERY_NOT_FOUND (the client resends the query). */
  onStoreError?(error: unknown): void;
}

const DOCUMENT_ID = /^(?:sha256:)?([0-9a-f]{64})$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** What was learnt about one document text (kept by its exact hash, so a repeated text is parsed once). */
interface Normalization {
  /** SHA-256 of codegen's normalized form; null when the text does not parse (or is over the token limit). */
  normalizedHash: string | null;
  soleOperationName: string | null;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const badRequest = (message: string) => new DocumentRejection(ErrorCode.BadRequest, message);

/**
 * The hash a request names its document by, or undefined; throws BAD_REQUEST for a malformed one.
 * Pure: exported for the unit tests.
 */
export function requestedHash(reference: DocumentReference): string | undefined {
  let fromDocumentId: string | undefined;
  if (reference.documentId !== undefined && reference.documentId !== null) {
    const match = typeof reference.documentId === 'string' ? DOCUMENT_ID.exec(reference.documentId) : null;
    if (!match) throw badRequest('`documentId` must be a string: "sha256:" followed by 64 lowercase hex digits.');
    fromDocumentId = match[1];
  }
  let fromApq: string | undefined;
  const persistedQuery = isRecord(reference.extensions) ? reference.extensions.persistedQuery : undefined;
  if (persistedQuery !== undefined && persistedQuery !== null) {
    if (!isRecord(persistedQuery)) throw badRequest('`extensions.persistedQuery` must be an object.');
    if (persistedQuery.version !== 1) throw badRequest('Unsupported persisted query version: send `version: 1`.');
    if (typeof persistedQuery.sha256Hash !== 'string' || !SHA256_HEX.test(persistedQuery.sha256Hash)) {
      throw badRequest('`extensions.persistedQuery.sha256Hash` must be a string of 64 lowercase hex digits.');
    }
    fromApq = persistedQuery.sha256Hash;
  }
  if (fromDocumentId !== undefined && fromApq !== undefined && fromDocumentId !== fromApq) {
    throw badRequest('`documentId` and `extensions.persistedQuery.sha256Hash` name different documents.');
  }
  return fromDocumentId ?? fromApq;
}

export class PersistedDocuments {
  private readonly normalizations = new LRUCache<string, Normalization>({ max: 5000 });

  constructor(private readonly options: PersistedDocumentsOptions) {}

  get mode(): TrustedDocumentsMode | null {
    return this.options.trusted?.mode ?? null;
  }

  /** The document `reference` runs; throws a DocumentRejection when it may not run or cannot be found. */
  async resolve(reference: DocumentReference, transport: DocumentTransport): Promise<ResolvedDocument> {
    const hash = requestedHash(reference);
    const { query } = reference;
    if (query !== undefined && query !== null && typeof query !== 'string') throw badRequest('`query` must be a string.');
    // The common case costs nothing: a text with no hash, and no list to check it against.
    if (hash === undefined && !this.options.trusted) return { query: undefined };
    const operationName = typeof reference.operationName === 'string' ? reference.operationName : null;

    if (query) {
      const exactHash = sha256Hex(query);
      // Apollo's rule for APQ: an id sent with a text must be the text's. A documentId may also be
      // that of the normalized text (what codegen's `__meta__.hash` holds, sent with `print(document)`).
      const isDocumentId = reference.documentId != null;
      if (hash !== undefined && hash !== exactHash && !(isDocumentId && this.normalize(query, exactHash).normalizedHash === hash)) {
        throw badRequest('provided sha does not match query');
      }
      const isListed = this.admit(query, exactHash, operationName, transport);
      // Only an APQ-shaped request registers, and a listed document needs no registration.
      const isApqRegistration = hash !== undefined && !isDocumentId && !isListed;
      return { query, registerHash: isApqRegistration ? hash : undefined };
    }
    if (hash === undefined) return { query: undefined };

    const trusted = this.options.trusted;
    const listedText = trusted?.list.get(hash);
    if (listedText !== undefined) return { query: listedText };
    if (trusted?.mode === 'enforce') {
      this.options.onOutsideList({ operationName, documentId: `sha256:${hash}`, outcome: 'rejected', transport });
      throw notInList();
    }
    const stored = await this.readStore(hash);
    if (stored === undefined) throw new DocumentRejection(ErrorCode.PersistedQueryNotFound, 'PersistedQueryNotFound');
    if (trusted) this.admit(stored, hash, operationName, transport);
    return { query: stored };
  }

  /** Whether the list has `text` (false without a list); a text outside it is reported, and refused in enforce mode. */
  private admit(text: string, exactHash: string, operationName: string | null, transport: DocumentTransport): boolean {
    const trusted = this.options.trusted;
    if (!trusted) return false;
    if (trusted.list.has(exactHash)) return true;
    const { normalizedHash, soleOperationName } = this.normalize(text, exactHash);
    if (normalizedHash !== null && trusted.list.has(normalizedHash)) return true;
    const outcome = trusted.mode === 'enforce' ? 'rejected' : 'run';
    // The id it would have in the list (of the text as sent when it does not parse).
    const documentId = `sha256:${normalizedHash ?? exactHash}`;
    this.options.onOutsideList({ operationName: operationName ?? soleOperationName, documentId, outcome, transport });
    if (outcome === 'rejected') throw notInList();
    return false;
  }

  private normalize(text: string, exactHash: string): Normalization {
    let normalization = this.normalizations.get(exactHash);
    if (normalization) return normalization;
    try {
      const document = parse(text, { maxTokens: this.options.maxTokens });
      normalization = { normalizedHash: sha256Hex(printExecutableGraphQLDocument(document)), soleOperationName: getOperationAST(document)?.name?.value ?? null };
    } catch {
      // Apollo or graphql-ws answers the parse error; here it is only a document outside the list.
      normalization = { normalizedHash: null, soleOperationName: null };
    }
    this.normalizations.set(exactHash, normalization);
    return normalization;
  }

  private async readStore(hash: string): Promise<string | undefined> {
    try {
      return await this.options.apq.get(hash);
    } catch (error) {
      this.options.onStoreError?.(error);
      return undefined;
    }
  }
}

const notInList = () =>
  new DocumentRejection(ErrorCode.PersistedQueryNotInList, 'This operation is not one of the trusted documents this gateway runs.');

/**
 * The graphql-ws side (websocket.ts's resolveDocument): the payload's text, or the refusal as the
 * error message graphql-ws sends. Registrations are HTTP's (Apollo stores them once the document
 * validated); a payload's query with its hash runs without being registered.
 */
export function websocketDocumentResolver(documents: PersistedDocuments) {
  return async (payload: DocumentReference & { query: string }): Promise<string | GraphQLError[]> => {
    try {
      return (await documents.resolve(payload, 'websocket')).query ?? payload.query;
    } catch (error) {
      if (error instanceof DocumentRejection) return [new AppError(error.code, error.message)];
      throw error;
    }
  };
}

/**
 * Counts every operation outside the list, and logs each document once per replica (the metric
 * shows the rate; a log line per request would drown the rest). Never variables: they may hold
 * personal data, and the operation name and id are what a frontend team needs to add it.
 */
export function outsideListReporter(metrics: { countDocumentOutsideList(outcome: OutsideListReport['outcome'], transport: DocumentTransport): void }, logger: Logger) {
  const logged = new LRUCache<string, true>({ max: 10_000 });
  return (report: OutsideListReport): void => {
    metrics.countDocumentOutsideList(report.outcome, report.transport);
    const key = `${report.outcome}:${report.documentId}`;
    if (logged.has(key)) return;
    logged.set(key, true);
    logger.warn(report, report.outcome === 'run' ? 'operation outside the trusted documents ran (audit mode)' : 'operation outside the trusted documents refused');
  };
}
