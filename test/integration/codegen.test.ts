// codegen.yml end to end: runs the graphql-codegen CLI with codegen.yml's output redirected into a
// scratch directory, checks the persisted-documents.json safelist it writes (the file the gateway
// loads with GRAPHQL_TRUSTED_DOCUMENTS), then type-checks a copy of examples/client against the result. The scratch
// directory sits in the git-ignored .data/ so that TypeScript resolves `graphql` and
// `@graphql-typed-document-node/core` from the repository's node_modules, and the working tree's
// examples/client/gql/ is neither read nor written.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CodegenConfig } from '@graphql-codegen/cli';
import { buildSchema, getOperationAST, Kind, parse, type OperationDefinitionNode } from 'graphql';
import ts from 'typescript';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

const execFileAsync = promisify(execFile);

const REPO_ROOT = path.join(__dirname, '../..');
const CLIENT_DIR = path.join(REPO_ROOT, 'examples/client');
const OPERATIONS_DIR = path.join(REPO_ROOT, 'schema/operations');
// The CLI rather than its `generate` API: the API's CommonJS build requires ESM-only yargs, which
// Jest's module loader cannot load on Node 20. The CLI is also exactly what `npm run codegen` runs.
const CODEGEN_BIN = path.join(REPO_ROOT, 'node_modules/.bin/graphql-codegen');
const CODEGEN_TIMEOUT_MS = 50_000;

/** Writes codegen.yml into `scratchDir` with its single output redirected to `scratchDir`/gql/. */
function writeRedirectedConfig(scratchDir: string): string {
  const config = parseYaml(fs.readFileSync(path.join(REPO_ROOT, 'codegen.yml'), 'utf8')) as CodegenConfig;
  const outputs = Object.values(config.generates);
  if (outputs.length !== 1) throw new Error(`expected one output in codegen.yml, found ${outputs.length}`);
  // Schema and document paths stay relative to the repository root, the CLI's working directory.
  // The client preset wants its output directory to end in a slash.
  const outputDir = `${path.relative(REPO_ROOT, scratchDir)}/gql/`;
  const configFile = path.join(scratchDir, 'codegen.yml');
  fs.writeFileSync(configFile, stringifyYaml({ ...config, generates: { [outputDir]: outputs[0] } }));
  return configFile;
}

/** `graphql-codegen --config configFile`; a failure carries the CLI's log, validation errors included. */
async function runCodegen(configFile: string): Promise<void> {
  // --verbose logs one plain line per step, failures with their cause, whatever the terminal. The
  // CLI logs nothing at all under NODE_ENV=test, which Jest sets.
  const args = ['--config', configFile, '--verbose'];
  const env = { ...process.env };
  delete env.NODE_ENV;
  try {
    await execFileAsync(CODEGEN_BIN, args, { cwd: REPO_ROOT, env, timeout: CODEGEN_TIMEOUT_MS });
  } catch (error) {
    const { stdout = '', stderr = '', signal } = error as { stdout?: string; stderr?: string; signal?: string };
    throw new Error(`graphql-codegen failed${signal ? ` (${signal})` : ''}:\n${stdout}${stderr}`, { cause: error });
  }
}

/** Every named operation in schema/operations, with its kind: `Products` → `query`. */
function readOperations(): OperationDefinitionNode[] {
  return fs
    .readdirSync(OPERATIONS_DIR)
    .filter((file) => file.endsWith('.graphql'))
    .flatMap((file) => parse(fs.readFileSync(path.join(OPERATIONS_DIR, file), 'utf8')).definitions)
    .filter((definition): definition is OperationDefinitionNode => definition.kind === 'OperationDefinition');
}

/** tsc -p `tsconfigPath` --noEmit, in process; returns the formatted diagnostics, '' when clean. */
function typecheck(tsconfigPath: string): { fileNames: string[]; diagnostics: string } {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    tsconfigPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`could not read ${tsconfigPath}`);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const diagnostics = ts.formatDiagnostics([...parsed.errors, ...ts.getPreEmitDiagnostics(program)], {
    getCanonicalFileName: (fileName) => fileName,
    getCurrentDirectory: () => path.dirname(tsconfigPath),
    getNewLine: () => '\n',
  });
  return { fileNames: parsed.fileNames, diagnostics };
}

describe('codegen.yml', () => {
  let scratchDir: string;
  let generatedTypes: string;
  let persistedDocuments: Record<string, string>;

  beforeAll(async () => {
    fs.mkdirSync(path.join(REPO_ROOT, '.data'), { recursive: true });
    scratchDir = fs.mkdtempSync(path.join(REPO_ROOT, '.data', 'codegen-test-'));
    for (const file of fs.readdirSync(CLIENT_DIR)) {
      if (file.endsWith('.ts') || file === 'tsconfig.json') {
        fs.copyFileSync(path.join(CLIENT_DIR, file), path.join(scratchDir, file));
      }
    }
    await runCodegen(writeRedirectedConfig(scratchDir));
    generatedTypes = fs.readFileSync(path.join(scratchDir, 'gql/graphql.ts'), 'utf8');
    persistedDocuments = JSON.parse(fs.readFileSync(path.join(scratchDir, 'gql/persisted-documents.json'), 'utf8')) as Record<string, string>;
  });

  afterAll(() => {
    if (scratchDir) fs.rmSync(scratchDir, { recursive: true, force: true });
  });

  it('generates a typed document for every operation in schema/operations', () => {
    const operations = readOperations();
    expect(operations.map((operation) => operation.name?.value)).toEqual(
      expect.arrayContaining(['Login', 'Me', 'Products', 'Product', 'MyOrders', 'Order', 'Users', 'ServerTime', 'MyOrderEvents', 'ProductChanged']),
    );
    // Every root field of the schema has an example operation (and so a persisted document).
    const schema = buildSchema(fs.readFileSync(path.join(REPO_ROOT, 'schema/schema.graphql'), 'utf8'));
    const rootFields = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((type) =>
      Object.keys(type?.getFields() ?? {}).map((field) => `${type!.name}.${field}`),
    );
    const usedRootFields = new Set(
      operations.flatMap((operation) => {
        const type = operation.operation === 'query' ? 'Query' : operation.operation === 'mutation' ? 'Mutation' : 'Subscription';
        return operation.selectionSet.selections.flatMap((selection) => (selection.kind === Kind.FIELD ? [`${type}.${selection.name.value}`] : []));
      }),
    );
    expect(rootFields.filter((field) => !usedRootFields.has(field))).toEqual([]);
    for (const operation of operations) {
      const name = operation.name?.value;
      if (!name) throw new Error('every example operation needs a name');
      const kind = operation.operation[0]!.toUpperCase() + operation.operation.slice(1);
      expect(generatedTypes).toContain(`export type ${name}${kind} = `);
      const typedDocument = `as unknown as DocumentNode<${name}${kind}, ${name}${kind}Variables>;`;
      expect(generatedTypes).toMatch(new RegExp(`export const ${name}Document = .* ${typedDocument}`));
    }
  });

  it('writes persisted-documents.json: every operation once, keyed by "sha256:" and the hash of its text', () => {
    const operations = readOperations();
    const entries = Object.entries(persistedDocuments);
    expect(entries).toHaveLength(operations.length);
    for (const [id, text] of entries) {
      expect(id).toBe(`sha256:${createHash('sha256').update(text).digest('hex')}`);
    }
    const namesInList = entries.map(([, text]) => getOperationAST(parse(text))?.name?.value).sort();
    expect(namesInList).toEqual(operations.map((operation) => operation.name?.value).sort());
    // Each typed document carries the id clients send as documentId.
    for (const id of Object.keys(persistedDocuments)) expect(generatedTypes).toContain(`{"__meta__":{"hash":"${id}"}`);
  });

  it('maps DateTimeISO to string and enums to string unions', () => {
    expect(generatedTypes).toContain('export type ServerTimeSubscription = { serverTime: string };');
    expect(generatedTypes).toMatch(/export type OrderStatus =\s*\| 'CANCELLED'/);
  });

  it('type-checks examples/client against the generated documents', () => {
    const { fileNames, diagnostics } = typecheck(path.join(scratchDir, 'tsconfig.json'));
    expect(fileNames).toEqual(
      expect.arrayContaining([path.join(scratchDir, 'usage.ts'), path.join(scratchDir, 'gql/graphql.ts')]),
    );
    expect(diagnostics).toBe('');
  });
});
