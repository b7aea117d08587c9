// The committed schema/schema.graphql, which frontends and codegen read, must match the code-first
// schema exactly; `npm run schema` rewrites it.
import fs from 'node:fs';
import path from 'node:path';
import { buildGatewaySchema, printGatewaySchema } from '../../src/modules/schema';

const SCHEMA_FILE = path.join(__dirname, '../../schema/schema.graphql');

/** Where two texts first differ, as the line number and both versions of that line. */
function firstDifferentLine(committed: string, printed: string): string {
  const committedLines = committed.split('\n');
  const printedLines = printed.split('\n');
  const index = committedLines.findIndex((line, i) => line !== printedLines[i]);
  const lineIndex = index === -1 ? committedLines.length : index;
  return [
    `first difference at line ${lineIndex + 1}:`,
    `  committed: ${JSON.stringify(committedLines[lineIndex] ?? '<end of file>')}`,
    `  printed:   ${JSON.stringify(printedLines[lineIndex] ?? '<end of file>')}`,
  ].join('\n');
}

describe('schema/schema.graphql', () => {
  it('matches the code-first schema', async () => {
    // Printing needs no Redis: an in-process PubSub satisfies buildSchema and is never used.
    const printed = printGatewaySchema(await buildGatewaySchema());
    const committed = fs.readFileSync(SCHEMA_FILE, 'utf8');

    if (printed !== committed) {
      throw new Error(
        'schema/schema.graphql is out of date: run `npm run schema` and commit it\n' +
          firstDifferentLine(committed, printed),
      );
    }
  });
});
