// The two HTML pages a browser can get at /graphql: the GraphiQL playground (when it is on), and a
// short page saying it is off and how to query without it. Both come with a Content-Security-Policy
// that lets them load nothing but this gateway's own files, so a page can never reach a CDN, font
// host or telemetry endpoint, even if a future GraphiQL build tried to.
import { createHash } from 'node:crypto';
import type { PlaygroundAsset, PlaygroundAssetName } from './playground-assets';

const SCRIPT_ORDER: readonly PlaygroundAssetName[] = ['react', 'react-dom', 'graphql-ws', 'graphiql', 'playground'];

const PAGE_STYLE = 'html,body,#graphiql{height:100%;margin:0}';
const OFF_PAGE_STYLE = 'body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#222}pre{background:#f4f4f4;padding:1rem;overflow-x:auto}code{font-size:.9em}';

const styleHash = (style: string) => `'sha256-${createHash('sha256').update(style).digest('base64')}'`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** A Host header that is only a host name, IPv4 or [IPv6] address and optional port: safe to echo into headers and HTML. */
export function isPlainHost(host: string | undefined): host is string {
  return host !== undefined && /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/.test(host);
}

/** The websocket origins of the Host the page was asked for (none for an odd Host). */
function socketSourcesFor(host: string | undefined): string {
  if (!isPlainHost(host)) return '';
  // CSP3 browsers already match ws(s) to 'self'; naming it keeps older ones working.
  return ` ws://${host} wss://${host}`;
}

/**
 * The playground's policy: scripts and styles from this origin only. GraphiQL's dialogs (Radix)
 * add <style> elements when they open (the settings and shortcuts dialogs were blocked without it),
 * hence 'unsafe-inline' for styles, never for scripts; its fonts are data: URLs in its stylesheet.
 */
export function playgroundContentSecurityPolicy(host: string | undefined): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    'font-src data:',
    "img-src 'self' data:",
    `connect-src 'self'${socketSourcesFor(host)}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The "playground is off" page loads nothing at all; its one inline style is allowed by hash. */
export const OFF_PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${styleHash(OFF_PAGE_STYLE)}`,
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function playgroundPageHtml(options: { graphqlPath: string; assetsPath: string; assets: ReadonlyMap<PlaygroundAssetName, PlaygroundAsset> }): string {
  const urlOf = (name: PlaygroundAssetName) => escapeHtml(`${options.assetsPath}/${options.assets.get(name)!.urlPath}`);
  const scripts = SCRIPT_ORDER.map((name) => `    <script src="${urlOf(name)}" defer></script>`).join('\n');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Streamgate playground</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="${urlOf('graphiql-css')}">
    <style>${PAGE_STYLE}</style>
${scripts}
  </head>
  <body>
    <div id="graphiql" data-endpoint="${escapeHtml(options.graphqlPath)}">Loading the playground…</div>
    <noscript>The playground needs JavaScript. Without it, send GraphQL over HTTP POST to this URL.</noscript>
  </body>
</html>
`;
}

export function playgroundOffPageHtml(options: { graphqlPath: string; origin: string }): string {
  const endpoint = escapeHtml(`${options.origin}${options.graphqlPath}`);
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Streamgate: the playground is off</title>
    <link rel="icon" href="data:,">
    <style>${OFF_PAGE_STYLE}</style>
  </head>
  <body>
    <h1>The GraphQL playground is off</h1>
    <p>This is a GraphQL endpoint. The in-browser playground is off on this server (it is off in
    production unless <code>GRAPHQL_PLAYGROUND=true</code> is set in the gateway's environment).</p>
    <p>Send GraphQL over HTTP POST with a JSON body:</p>
    <pre><code>curl -s ${endpoint} \\
  -H 'content-type: application/json' \\
  -d '{"query":"{ products(first: 3) { edges { node { id name } } } }"}'</code></pre>
    <p>Add <code>-H 'authorization: Bearer &lt;token&gt;'</code> to act as a logged-in user (the
    <code>login</code> mutation returns a token). Subscriptions use a graphql-ws websocket on the
    same URL, passing <code>{ "authorization": "Bearer &lt;token&gt;" }</code> as its connection parameters.</p>
  </body>
</html>
`;
}
