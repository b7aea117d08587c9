// What an SSE request asks for, read the GraphQL-over-HTTP way (graphql-sse's distinct connections
// mode): GET with `query`, `variables`, `operationName` (and `extensions`) in the query string, as a
// browser's EventSource must send it, or POST with a JSON body, as graphql-sse's fetch client does.
// Trusted documents and persisted queries were resolved to text before this (trusted-documents-http.ts).
import type { FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';
import { AppError, ErrorCode } from '../errors';
import type { OperationPayload } from './subscription-core';

/** What a GraphQL client may ask for on this URL; an event stream only when preferred to all of them. */
const MEDIA_TYPES = ['application/json', 'application/graphql-response+json', 'text/event-stream'];

/** GET or POST preferring `text/event-stream` (EventSource and graphql-sse send exactly that). */
export function isEventStreamRequest(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'POST') return false;
  const accept = request.headers.accept;
  // Every GraphQL request passes here: a plain substring test spares the others the negotiation.
  return accept !== undefined && accept.includes('text/event-stream') && new Negotiator({ headers: { accept } }).mediaType(MEDIA_TYPES) === 'text/event-stream';
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const badRequest = (message: string) => new AppError(ErrorCode.BadRequest, message);

function operationOf({ query, variables, operationName }: Record<string, unknown>): OperationPayload {
  if (typeof query !== 'string' || query.trim() === '') throw badRequest('An operation needs a non-empty `query` string.');
  if (variables !== undefined && variables !== null && !isRecord(variables)) throw badRequest('`variables` must be a JSON object.');
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') throw badRequest('`operationName` must be a string.');
  return { query, variables: variables ?? undefined, operationName: operationName ?? undefined };
}

function jsonParameter(parameters: URLSearchParams, name: string): unknown {
  const text = parameters.get(name);
  if (text === null || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest(`The \`${name}\` search parameter must be JSON.`);
  }
}

/** The operation the request carries; BAD_REQUEST (an AppError) when it is malformed. */
export function readOperation(request: FastifyRequest): OperationPayload {
  if (request.method === 'POST') {
    if (!isRecord(request.body)) throw badRequest('POST a JSON object: { "query": "...", "variables": {...} }.');
    return operationOf(request.body);
  }
  const parameters = new URL(request.url, 'http://gateway').searchParams;
  for (const name of ['query', 'variables', 'operationName']) {
    if (parameters.getAll(name).length > 1) throw badRequest(`The '${name}' search parameter may only be specified once.`);
  }
  return operationOf({ query: parameters.get('query'), variables: jsonParameter(parameters, 'variables'), operationName: parameters.get('operationName') });
}

/** The cursor a reconnecting EventSource (or a client acting like one) resumes from; undefined when none. */
export function lastEventIdOf(request: FastifyRequest): string | undefined {
  const value = request.headers['last-event-id'];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
