// Runs TypeScript sources directly (npm run dev/seed/schema, and the gateway processes the tests
// spawn) with the same swc settings Jest uses (.swcrc): type-graphql needs decorator metadata,
// which esbuild-based runners do not emit.
const fs = require('node:fs');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '.swcrc'), 'utf8'));
delete swcrc.$schema;

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...swcrc, filename, swcrc: false });
  module._compile(code, filename);
};
