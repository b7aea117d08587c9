// The response cache in front of Apollo, as one Fastify plugin: a repeated cacheable query is
// answered from its stored bytes before GraphQL runs (cache/response-cache.ts); a miss carries
// what it needs to be stored (where, and the dependencies its loaders record) to the GraphQL
// context and to the onSend hook that stores the answer. The session is checked on every request
// before a cached answer is sent, so a revoked session never gets one (a private answer's key
// needs the viewer, so it is looked up after the check; a public one meanwhile), and the check is
// done once: the context reuses it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { costSubject } from '../auth/viewer';
import type { ResponseCache, ResponseMiss } from '../cache/response-cache';
import type { Authentication } from './auth-header';
import { viewerScopeOf, type CacheableQueries, type CanonicalRequest } from './cacheable-query';
import { singleResultType } from './media-type';
import type { RequestUsage } from '../observability/request-usage';

/** Where the plugin keeps its per-request state (no string property a client could name). */
export const responseCacheState = Symbol('streamgate.responseCache');

export interface ResponseCacheRequestState {
  /** The session, checked before the lookup (the GraphQL context reuses it). */
  authentication: Authentication;
  /** Set on a miss: where to store the answer and what its loaders read. */
  miss?: ResponseMiss;
}

/** A JSON body's text beside the value it parsed to (the body a hook may replace later, e.g. a persisted query's). */
const jsonBodyText = Symbol('streamgate.jsonBodyText');

declare module 'fastify' {
  interface FastifyRequest {
    [responseCacheState]: ResponseCacheRequestState | null;
    [jsonBodyText]: { text: string; value: unknown } | null;
  }
}

export interface ResponseCachePluginOptions {
  cache: ResponseCache;
  queries: CacheableQueries;
  /** The GraphQL route (POST requests to it are looked up). */
  path: string;
  authenticate(authorization: unknown): Promise<Authentication>;
  /** Where the request counts its Redis round trips (the lookup is one). @default none */
  usageOf?(request: FastifyRequest): RequestUsage | undefined;
  /** Hears each lookup that found an answer (hit) or will store one (miss). @default none */
  onLookup?(request: FastifyRequest, operationName: string | null, isHit: boolean): void;
}

interface GraphQLBody {
  query?: unknown;
  variables?: unknown;
  operationName?: unknown;
}

export const responseCachePlugin = fastifyPlugin<ResponseCachePluginOptions>(
  async (fastify, { cache, queries, path, authenticate, usageOf, onLookup }) => {
    fastify.decorateRequest(responseCacheState, null);
    fastify.decorateRequest(jsonBodyText, null);

    // Fastify's own JSON parser, keeping the text: a request sent again (what a cache answers) is
    // recognised by its text (CacheableQueries.canonicalRequestOfText).
    const parseJson = fastify.getDefaultJsonParser('error', 'error');
    fastify.removeContentTypeParser('application/json');
    fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = body.toString();
      parseJson(request, text, (error, value) => {
        if (!error) request[jsonBodyText] = { text, value };
        done(error, value);
      });
    });
    /** The canonical form of the body, by its text while the body is still the one parsed from it (a hook may replace it). */
    const canonicalOf = (request: FastifyRequest, body: GraphQLBody & { query: string }): CanonicalRequest | null => {
      const parsed = request[jsonBodyText];
      return parsed?.value === body ? queries.canonicalRequestOfText(parsed.text, body) : queries.canonicalRequest(body.query, body.operationName, body.variables);
    };

    /** Answers from the cache (true), or leaves the request to Apollo with what a miss needs. */
    const answerFromCache = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
      if (request.method !== 'POST' || request.routeOptions.url !== path) return false;
      const answerType = singleResultType(request.headers.accept);
      if (answerType === null) return false;
      const body = request.body as GraphQLBody | undefined;
      if (typeof body?.query !== 'string') return false;
      const canonical = canonicalOf(request, body as GraphQLBody & { query: string });
      if (canonical === null) return false;
      const lookUp = (viewerScope: string) => cache.lookup(cache.keyOf(viewerScope, canonical.operation), canonical.readsVolatileOf, usageOf?.(request));
      // A public answer's key does not depend on the viewer: it is read while the session is
      // checked (one round trip's wait, not two), and used only once the session is good.
      const publicLookup = canonical.scope === 'public' ? lookUp('public') : undefined;
      let authentication: Authentication;
      try {
        authentication = await authenticate(request.headers.authorization);
      } catch {
        return false; // Apollo's context answers the error (401, 503)
      }
      const lookup = await (publicLookup ?? lookUp(viewerScopeOf(canonical, authentication.viewer)));
      cache.countLookup(lookup);
      if (lookup) onLookup?.(request, canonical.operationName, 'body' in lookup);
      if (lookup && 'body' in lookup) {
        reply.type(answerType).send(lookup.body);
        return true;
      }
      request[responseCacheState] = { authentication, miss: lookup ?? undefined };
      return false;
    };

    // Callback style: an async hook that answers must return the reply, which Fastify then awaits
    // until the response has finished (stream listeners on every hit); a callback hook that sent
    // simply does not call `done`.
    fastify.addHook('preHandler', (request, reply, done) => {
      answerFromCache(request, reply).then((isAnswered) => {
        if (!isAnswered) done();
      }, done);
    });

    fastify.addHook('onSend', (request, reply, payload, done) => {
      const state = request[responseCacheState];
      // Only complete, error-free answers are kept.
      if (state?.miss && reply.statusCode === 200 && typeof payload === 'string' && payload.startsWith('{"data":') && !payload.includes('"errors":')) {
        // Who pays for the store from their budget: the viewer, else the address.
        cache.store(state.miss, payload, costSubject(state.authentication.viewer, request.ip));
      }
      done(null, payload);
    });
  },
  { name: 'streamgate-response-cache', fastify: '5.x' },
);
