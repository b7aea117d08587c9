// Who gets the GraphiQL playground at /graphql, and that nothing else changed: a browser (GET, no
// query string, HTML preferred) gets the page when the playground is on (development, or
// GRAPHQL_PLAYGROUND=true) and a "the playground is off" page when it is off (production); GraphQL
// over GET and POST answers as before either way. The page and its assets name no other origin.
// test/e2e/playground-browser.test.ts runs the page in a real browser.
import { startTestGateway, type TestGateway } from '../support/gateway';
import { startTestRedis, type TestRedis } from '../../src/testing/redis-topology';

/** What Chromium sends when the address bar opens a URL. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8';

let redis: TestRedis;
let development: TestGateway;
let production: TestGateway;
let productionWithPlayground: TestGateway;

beforeAll(async () => {
  // One Redis for the three gateways: each has its own database, whose identity keeps their keys apart.
  redis = await startTestRedis();
  [development, production, productionWithPlayground] = await Promise.all([
    startTestGateway({ redis, env: { NODE_ENV: 'development' } }),
    startTestGateway({ redis, env: { NODE_ENV: 'production' } }),
    startTestGateway({ redis, env: { NODE_ENV: 'production', GRAPHQL_PLAYGROUND: 'true' } }),
  ]);
  // Three gateways (three migrated databases) at once: longer than one start on a loaded CI machine.
}, 120_000);

afterAll(async () => {
  await Promise.all([development, production, productionWithPlayground].map((gateway) => gateway?.stop()));
  await redis?.stop();
});

const originOf = (gateway: TestGateway) => new URL(gateway.url).origin;

/** A GET whose body is always read to the end: an unread body keeps the connection busy and the gateway's close() waiting on it. */
async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers, redirect: 'manual' });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** Every src= and href= in a page. */
function referencedUrls(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((match) => match[1]!);
}

describe('playground on (development)', () => {
  it('answers a browser at /graphql with the GraphiQL page under a strict Content-Security-Policy', async () => {
    const response = await get(development.url, { accept: BROWSER_ACCEPT });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('vary')).toMatch(/accept/i);
    const policy = response.headers.get('content-security-policy')!;
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("script-src 'self';");
    expect(policy).toMatch(/connect-src 'self' ws:\/\/127\.0\.0\.1:\d+ wss:\/\/127\.0\.0\.1:\d+;/);
    const html = response.text;
    expect(html).toContain('<div id="graphiql" data-endpoint="/graphql">');
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/); // no inline script: script-src 'self' holds
  });

  it('names no other origin in the page: every script and stylesheet is the gateway’s own', async () => {
    const { text: html } = await get(development.url, { accept: BROWSER_ACCEPT });
    const urls = referencedUrls(html);
    expect(urls.length).toBeGreaterThanOrEqual(6); // icon, stylesheet, five scripts
    expect(urls.filter((url) => !url.startsWith('/graphql/assets/') && url !== 'data:,')).toEqual([]);
    expect(html).not.toMatch(/https?:\/\/|\/\/[a-z0-9-]+\.[a-z]/i);
  });

  it('serves every asset the page names, for a year, gzipped when asked', async () => {
    const { text: html } = await get(development.url, { accept: BROWSER_ACCEPT });
    const assets = referencedUrls(html).filter((url) => url.startsWith('/graphql/assets/'));
    expect(assets).toEqual([
      expect.stringMatching(/^\/graphql\/assets\/graphiql@3\.\d+\.\d+\/graphiql\.min\.css$/),
      expect.stringMatching(/^\/graphql\/assets\/react@18\.\d+\.\d+\/react\.production\.min\.js$/),
      expect.stringMatching(/^\/graphql\/assets\/react-dom@18\.\d+\.\d+\/react-dom\.production\.min\.js$/),
      expect.stringMatching(/^\/graphql\/assets\/graphql-ws@\d+\.\d+\.\d+\/graphql-ws\.min\.js$/),
      expect.stringMatching(/^\/graphql\/assets\/graphiql@3\.\d+\.\d+\/graphiql\.min\.js$/),
      expect.stringMatching(/^\/graphql\/assets\/streamgate\/playground\.[0-9a-f]{16}\.js$/),
    ]);
    for (const asset of assets) {
      const response = await get(`${originOf(development)}${asset}`, { 'accept-encoding': 'gzip' });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe(asset.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('content-encoding')).toBe('gzip'); // fetch un-gzips the body below
      expect(response.text.length).toBeGreaterThan(100);
    }
    const plain = await get(`${originOf(development)}${assets.at(-1)}`, { 'accept-encoding': 'identity' });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.text).toContain('graphqlWs.createClient');
  });

  it('answers 404 for an asset it does not have, and never serves files by path', async () => {
    for (const path of ['/graphql/assets/graphiql@3.9.0/package.json', '/graphql/assets/..%2f..%2fpackage.json', '/graphql/assets/graphiql@0.0.1/graphiql.min.js']) {
      expect((await get(`${originOf(development)}${path}`)).status).toBe(404);
    }
  });

  it('redirects / to the playground', async () => {
    const response = await get(`${originOf(development)}/`, { accept: BROWSER_ACCEPT });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/graphql');
  });
});

describe('playground off (production)', () => {
  it('answers a browser at /graphql with 406 and a page saying how to turn it on and how to query', async () => {
    const response = await get(production.url, { accept: BROWSER_ACCEPT });
    expect(response.status).toBe(406);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*';/);
    const html = response.text;
    expect(html).toContain('The GraphQL playground is off');
    expect(html).toContain('GRAPHQL_PLAYGROUND=true');
    expect(html).toContain(`curl -s ${production.url}`);
    expect(html).not.toMatch(/<script|\b(?:src|href)="(?!data:)/);
  });

  it('serves no playground assets and no redirect from /', async () => {
    expect((await get(`${originOf(production)}/`, { accept: BROWSER_ACCEPT })).status).toBe(404);
    const { text: html } = await get(productionWithPlayground.url, { accept: BROWSER_ACCEPT });
    const asset = referencedUrls(html).find((url) => url.endsWith('/graphiql.min.js'))!;
    expect((await get(`${originOf(productionWithPlayground)}${asset}`)).status).toBe(200);
    expect((await get(`${originOf(production)}${asset}`)).status).toBe(404);
  });

  it('serves the playground in production when GRAPHQL_PLAYGROUND=true', async () => {
    const response = await get(productionWithPlayground.url, { accept: BROWSER_ACCEPT });
    expect(response.status).toBe(200);
    expect(response.text).toContain('<div id="graphiql"');
    expect((await get(`${originOf(productionWithPlayground)}/`)).headers.get('location')).toBe('/graphql');
  });
});

describe.each([
  ['playground on', () => development],
  ['playground off', () => production],
])('GraphQL over HTTP is unchanged (%s)', (_label, gatewayOf) => {
  it('answers a GET query from a browser with JSON data', async () => {
    const response = await get(`${gatewayOf().url}?query=${encodeURIComponent('{ product(id: "1") { sku } }')}`, { accept: BROWSER_ACCEPT });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(response.text)).toEqual({ data: { product: { sku: 'SKU-000001' } } });
  });

  it.each([
    ['Accept: application/json', { accept: 'application/json' }],
    ['Accept: application/graphql-response+json', { accept: 'application/graphql-response+json' }],
    ['no Accept header', {}],
  ])('answers a GET without a query and %s with the GraphQL 400, not a page', async (_accept, headers) => {
    const response = await get(gatewayOf().url, headers as Record<string, string>);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/(graphql-response\+)?json/);
    expect(JSON.parse(response.text)).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('answers a POST from a browser with JSON data', async () => {
    const response = await fetch(gatewayOf().url, {
      method: 'POST',
      headers: { accept: BROWSER_ACCEPT, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ product(id: "2") { sku } }' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { product: { sku: 'SKU-000002' } } });
  });
});
