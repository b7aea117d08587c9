// tsc does not copy the generated SQL migrations; the built gateway reads them next to db/migrate.js.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
fs.cpSync(path.join(root, 'src/db/migrations'), path.join(root, 'dist/db/migrations'), { recursive: true });
