// Routes a browser's visit to /graphql: the GraphiQL playground when it is on (development, or
// GRAPHQL_PLAYGROUND=true), a short "the playground is off" page when it is off. Everything else
// sent to /graphql - a GET with a query string, any client preferring JSON, POST - goes on to
// Apollo exactly as before. Replaces Apollo's landing page, which loaded its scripts, an iframe
// and fonts from CDNs and so showed nothing behind a firewall.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Negotiator from 'negotiator';
import { playgroundAssets } from './playground-assets';
import { isPlainHost, OFF_PAGE_CONTENT_SECURITY_POLICY, playgroundContentSecurityPolicy, playgroundOffPageHtml, playgroundPageHtml } from './playground-page';

export interface PlaygroundOptions {
  isEnabled: boolean;
  /** Where GraphQL is served (GET and POST, and the websocket); the page is served there too. */
  graphqlPath: string;
}

/**
 * The media types Apollo weighed against text/html to decide on its landing page; with the same
 * list, exactly the requests that used to get a landing page get a page now (unless they carry a
 * query string, see isPageRequest).
 */
const GRAPHQL_MEDIA_TYPES = [
  'application/json; charset=utf-8',
  'application/graphql-response+json; charset=utf-8',
  'multipart/mixed; deferSpec=20220824',
  'multipart/mixed; incrementalSpec=v0.2',
  'multipart/mixed',
];

/** A browser opening the endpoint: GET, no query string (that would be a GraphQL GET), HTML preferred. */
function isPageRequest(request: FastifyRequest): boolean {
  if (request.method !== 'GET' || request.url.includes('?')) return false;
  const accept = request.headers.accept;
  if (!accept) return false;
  return new Negotiator({ headers: { accept } }).mediaType([...GRAPHQL_MEDIA_TYPES, 'text/html']) === 'text/html';
}

/** Both pages depend on Accept, and nothing may cache one for another client; assets are what is cached. */
function sendPage(reply: FastifyReply, status: number, html: string, contentSecurityPolicy: string) {
  return reply
    .code(status)
    .headers({
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': contentSecurityPolicy,
      'cache-control': 'no-store',
      vary: 'accept',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
    .send(html);
}

/** The origin the browser used, for the curl example; a Host that does not look like one is not echoed. */
function originOf(request: FastifyRequest): string {
  const host = request.headers.host;
  return isPlainHost(host) ? `${request.protocol}://${host}` : 'http://localhost:4000';
}

/**
 * Registers the page hook (before any other onRequest hook that counts operations, so a page view
 * is not one), and when on, the assets route and the redirect from `/`.
 */
export function registerPlayground(fastify: FastifyInstance, { isEnabled, graphqlPath }: PlaygroundOptions): void {
  if (!isEnabled) {
    fastify.addHook('onRequest', (request, reply, done) => {
      if (request.routeOptions.url !== graphqlPath || !isPageRequest(request)) return done();
      // 406 Not Acceptable: the client asked for HTML and this endpoint has only JSON to offer;
      // RFC 9110 (15.5.7) has a 406 describe the representations that are available, which the page does.
      sendPage(reply, 406, playgroundOffPageHtml({ graphqlPath, origin: originOf(request) }), OFF_PAGE_CONTENT_SECURITY_POLICY);
    });
    return;
  }

  const assetsPath = `${graphqlPath}/assets`;
  const assets = playgroundAssets();
  const assetsByUrlPath = new Map([...assets.values()].map((asset) => [asset.urlPath, asset]));
  const html = playgroundPageHtml({ graphqlPath, assetsPath, assets });

  // Callback style, like every hook every request runs: an async one costs a promise and its turns.
  // One that sent the page does not call `done`.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.url !== graphqlPath || !isPageRequest(request)) return done();
    sendPage(reply, 200, html, playgroundContentSecurityPolicy(request.headers.host));
  });

  fastify.get(`${assetsPath}/*`, async (request, reply) => {
    const asset = assetsByUrlPath.get((request.params as { '*': string })['*']);
    if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    const { identity, gzipped } = await asset.load();
    const acceptsGzip = new Negotiator({ headers: { 'accept-encoding': request.headers['accept-encoding'] } }).encoding(['gzip', 'identity']) === 'gzip';
    void reply.headers({
      'content-type': asset.contentType,
      // The URL names the package version (or the script's hash): its bytes never change.
      'cache-control': 'public, max-age=31536000, immutable',
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
      'cross-origin-resource-policy': 'same-origin',
    });
    if (acceptsGzip) void reply.header('content-encoding', 'gzip');
    return reply.send(acceptsGzip ? gzipped : identity);
  });

  fastify.get('/', async (_request, reply) => reply.redirect(graphqlPath, 302));
}
