// The files the GraphiQL playground page loads, all served by the gateway itself so the page works
// behind a firewall: GraphiQL's UMD build and stylesheet, React 18's UMD builds, graphql-ws's UMD
// client (from node_modules, no bundler at run time), and our own start-up script. Each URL names
// the package version (or the script's content hash), so a browser may cache it for a year; a file
// is read and gzipped on its first request, so a gateway that never serves the page pays nothing.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { PLAYGROUND_SCRIPT } from './playground-script';

const gzipAsync = promisify(gzip);

export type PlaygroundAssetName = 'react' | 'react-dom' | 'graphql-ws' | 'graphiql' | 'graphiql-css' | 'playground';

export interface PlaygroundAsset {
  /** Path under the assets prefix, e.g. "graphiql@3.9.0/graphiql.min.js". */
  urlPath: string;
  contentType: string;
  /** The bytes as stored and gzipped, loaded once on first use. */
  load(): Promise<{ identity: Buffer; gzipped: Buffer }>;
}

/** Files inside npm packages, in the order the page must load the scripts. */
const PACKAGE_FILES: ReadonlyArray<{ name: PlaygroundAssetName; packageName: string; file: string; contentType: string }> = [
  { name: 'react', packageName: 'react', file: 'umd/react.production.min.js', contentType: 'text/javascript; charset=utf-8' },
  { name: 'react-dom', packageName: 'react-dom', file: 'umd/react-dom.production.min.js', contentType: 'text/javascript; charset=utf-8' },
  { name: 'graphql-ws', packageName: 'graphql-ws', file: 'umd/graphql-ws.min.js', contentType: 'text/javascript; charset=utf-8' },
  { name: 'graphiql', packageName: 'graphiql', file: 'graphiql.min.js', contentType: 'text/javascript; charset=utf-8' },
  { name: 'graphiql-css', packageName: 'graphiql', file: 'graphiql.min.css', contentType: 'text/css; charset=utf-8' },
];

function once<T>(produce: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => {
    result ??= produce();
    // A failed read is retried on the next request rather than remembered.
    result.catch(() => (result = undefined));
    return result;
  };
}

const loaderOf = (read: () => Promise<Buffer>) =>
  once(async () => {
    const identity = await read();
    return { identity, gzipped: await gzipAsync(identity) };
  });

/**
 * Resolves every asset's package and version now (so a missing package fails at start, not on the
 * first page view); reads no file contents yet.
 */
export function playgroundAssets(): ReadonlyMap<PlaygroundAssetName, PlaygroundAsset> {
  const assets = new Map<PlaygroundAssetName, PlaygroundAsset>();
  for (const { name, packageName, file, contentType } of PACKAGE_FILES) {
    // Every package exports its package.json; the UMD files themselves are not in "exports".
    const manifestPath = require.resolve(`${packageName}/package.json`);
    const { version } = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: string };
    const filePath = path.join(path.dirname(manifestPath), file);
    assets.set(name, { urlPath: `${packageName}@${version}/${path.basename(file)}`, contentType, load: loaderOf(() => readFile(filePath)) });
  }
  const script = Buffer.from(PLAYGROUND_SCRIPT);
  const scriptHash = createHash('sha256').update(script).digest('hex').slice(0, 16);
  assets.set('playground', {
    urlPath: `streamgate/playground.${scriptHash}.js`,
    contentType: 'text/javascript; charset=utf-8',
    load: loaderOf(async () => script),
  });
  return assets;
}
