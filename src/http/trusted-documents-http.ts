// Trusted documents and persisted queries on HTTP: a preValidation hook on the GraphQL route that
// resolves what a GET or POST names (trusted-documents.ts) before anything else reads the request,
// then rewrites it into a plain request carrying its text. So the response cache (which parses the
// body itself) answers hash-only requests like any other, an enforce-mode refusal comes before a
// cached answer could, and Apollo runs the text it is given: it sees a persistedQuery extension
// only for an APQ registration it should store.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode } from '../errors';
import { errorResultType } from './media-type';
import { DocumentRejection, type DocumentReference, type PersistedDocuments } from './trusted-documents';

export interface TrustedDocumentsHttpOptions {
  documents: PersistedDocuments;
  /** The GraphQL route. */
  path: string;
}

/** The parameters a GET names its document with; each may appear once (Apollo's rule too). */
const GET_PARAMETERS = ['query', 'documentId', 'extensions', 'operationName'] as const;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `extensions` without the persistedQuery entry (undefined when nothing else is left). */
function withoutPersistedQuery(extensions: Record<string, unknown>): Record<string, unknown> | undefined {
  const { persistedQuery: _dropped, ...rest } = extensions;
  return Object.keys(rest).length ? rest : undefined;
}

function rejectionReply(request: FastifyRequest, reply: FastifyReply, rejection: DocumentRejection): FastifyReply {
  // Like Apollo's own PERSISTED_QUERY_NOT_FOUND: never cached by the way back, the client resends.
  if (rejection.httpStatus === 200) void reply.header('cache-control', 'private, no-cache, must-revalidate');
  return reply
    .code(rejection.httpStatus)
    .type(errorResultType(request.headers.accept))
    .send({ errors: [{ message: rejection.message, extensions: { code: rejection.code } }] });
}

async function resolvePost(request: FastifyRequest, documents: PersistedDocuments): Promise<void> {
  const body = request.body;
  // Anything but a JSON object (a batch, a string) is Apollo's to refuse, and it runs nothing.
  if (!isRecord(body)) return;
  const resolved = await documents.resolve(body as DocumentReference, 'http');
  if (resolved.query === undefined) return;
  const rewritten: Record<string, unknown> = { ...body, query: resolved.query };
  delete rewritten.documentId;
  if (isRecord(body.extensions) && resolved.registerHash === undefined) {
    // Apollo refuses an `extensions` key holding anything but an object: drop the key when emptied.
    const rest = withoutPersistedQuery(body.extensions);
    if (rest) rewritten.extensions = rest;
    else delete rewritten.extensions;
  }
  request.body = rewritten;
}

async function resolveGet(request: FastifyRequest, documents: PersistedDocuments): Promise<void> {
  const url = new URL(request.url, 'http://gateway');
  const parameters = url.searchParams;
  for (const name of GET_PARAMETERS) {
    if (parameters.getAll(name).length > 1) throw new DocumentRejection(ErrorCode.BadRequest, `The '${name}' search parameter may only be specified once.`);
  }
  let extensions: unknown;
  try {
    extensions = parameters.has('extensions') ? JSON.parse(parameters.get('extensions')!) : undefined;
  } catch {
    return; // Apollo answers the invalid JSON (400), running nothing
  }
  const reference: DocumentReference = {
    query: parameters.get('query') ?? undefined,
    documentId: parameters.get('documentId') ?? undefined,
    operationName: parameters.get('operationName') ?? undefined,
    extensions,
  };
  const resolved = await documents.resolve(reference, 'http');
  if (resolved.query === undefined) return;
  const dropsPersistedQuery = isRecord(extensions) && extensions.persistedQuery !== undefined && resolved.registerHash === undefined;
  if (resolved.query === reference.query && reference.documentId === undefined && !dropsPersistedQuery) return;
  // Apollo reads a GET from the URL's search string (not request.query): rewrite it with the text.
  parameters.set('query', resolved.query);
  parameters.delete('documentId');
  if (dropsPersistedQuery && isRecord(extensions)) {
    const rest = withoutPersistedQuery(extensions);
    if (rest) parameters.set('extensions', JSON.stringify(rest));
    else parameters.delete('extensions');
  }
  request.raw.url = `${url.pathname}?${parameters.toString()}`;
}

/** Registers the hook; it runs before the response cache's (preValidation comes before preHandler). */
export function registerTrustedDocuments(fastify: FastifyInstance, { documents, path }: TrustedDocumentsHttpOptions): void {
  fastify.addHook('preValidation', async (request, reply) => {
    if (request.routeOptions.url !== path || (request.method !== 'GET' && request.method !== 'POST')) return;
    try {
      if (request.method === 'POST') await resolvePost(request, documents);
      else await resolveGet(request, documents);
    } catch (error) {
      if (error instanceof DocumentRejection) return rejectionReply(request, reply, error);
      throw error;
    }
  });
}
