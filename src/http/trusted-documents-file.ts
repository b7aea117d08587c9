// Reads the trusted documents file (GRAPHQL_TRUSTED_DOCUMENTS): the persisted-documents.json that
// GraphQL Code Generator's client preset writes (codegen.yml), a JSON object mapping
// "sha256:<hex>" to each operation's normalized text. Read once, at start, from config.ts, so a
// missing or malformed file stops the process with one line naming the variable instead of
// surfacing as rejected requests later. Every entry is checked: its id must be the SHA-256 of its
// text (a hand-edited file must not let an id stand for another document) and its text must parse.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parse } from 'graphql';

/** The safelist: SHA-256 (64 lowercase hex digits, without the "sha256:" prefix) → document text. */
export type TrustedDocumentList = ReadonlyMap<string, string>;

const DOCUMENT_ID = /^sha256:([0-9a-f]{64})$/;

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Parses the file's contents; throws an Error saying what is wrong (the caller names the file). */
export function parseTrustedDocumentList(json: string): TrustedDocumentList {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('expected a JSON object of "sha256:<hex>": "<document>" (codegen\'s persisted-documents.json)');
  }
  const list = new Map<string, string>();
  for (const [id, text] of Object.entries(parsed)) {
    const hash = DOCUMENT_ID.exec(id)?.[1];
    if (!hash) throw new Error(`"${id}" is not an id of the form "sha256:" and 64 lowercase hex digits (set hashAlgorithm: sha256 in codegen.yml)`);
    if (typeof text !== 'string') throw new Error(`the document of "${id}" is not a string`);
    if (sha256Hex(text) !== hash) throw new Error(`"${id}" is not the SHA-256 of its document`);
    try {
      parse(text);
    } catch (error) {
      throw new Error(`the document of "${id}" does not parse: ${(error as Error).message}`, { cause: error });
    }
    list.set(hash, text);
  }
  if (list.size === 0) throw new Error('the file lists no documents');
  return list;
}

/** Reads and parses the file at `path`; throws an Error naming what is wrong with it. */
export function loadTrustedDocumentList(path: string): TrustedDocumentList {
  let json: string;
  try {
    json = fs.readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read the file (${code ?? (error as Error).message}); generate it with \`npm run codegen\``, { cause: error });
  }
  return parseTrustedDocumentList(json);
}
