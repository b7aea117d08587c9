// tsc copies only what it compiles: the generated SQL migrations and the Lua scripts are read from
// disk at run time, next to db/client.js and redis/scripts.js, so the build copies them too.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
for (const folder of ['db/migrations', 'redis/scripts']) {
  fs.cpSync(path.join(root, 'src', folder), path.join(root, 'dist', folder), { recursive: true });
}
