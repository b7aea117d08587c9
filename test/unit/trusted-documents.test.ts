// The pure parts of trusted documents: reading codegen's persisted-documents.json (through the
// config, where a bad file stops the start), and the ids a request names its document with.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { parseTrustedDocumentList } from '../../src/http/trusted-documents-file';
import { DocumentRejection, requestedHash } from '../../src/http/trusted-documents';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const ME = 'query Me { me { id } }';
const HASH = sha256(ME);

describe('parseTrustedDocumentList', () => {
  it('maps each hash (without its "sha256:" prefix) to its document', () => {
    const list = parseTrustedDocumentList(JSON.stringify({ [`sha256:${HASH}`]: ME }));
    expect([...list]).toEqual([[HASH, ME]]);
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['an array', '[]', /expected a JSON object/],
    ['an empty list', '{}', /lists no documents/],
    ['a sha1 id', JSON.stringify({ [sha256(ME).slice(0, 40)]: ME }), /not an id of the form "sha256:"/],
    ['an id without its prefix', JSON.stringify({ [HASH]: ME }), /not an id of the form "sha256:"/],
    ['a document that is not a string', JSON.stringify({ [`sha256:${HASH}`]: 1 }), /is not a string/],
    ['an id of another text', JSON.stringify({ [`sha256:${HASH}`]: 'query Other { me { id } }' }), /is not the SHA-256 of its document/],
    ['a document that does not parse', JSON.stringify({ [`sha256:${sha256('query {')}`]: 'query {' }), /does not parse/],
  ])('refuses %s', (_name, json, message) => {
    expect(() => parseTrustedDocumentList(json)).toThrow(message);
  });
});

describe('GRAPHQL_TRUSTED_DOCUMENTS in the configuration', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trusted-documents-config-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads the list at start, in audit mode unless told otherwise', () => {
    const file = path.join(dir, 'good.json');
    fs.writeFileSync(file, JSON.stringify({ [`sha256:${HASH}`]: ME }));
    const config = loadConfig({ GRAPHQL_TRUSTED_DOCUMENTS: file });
    expect(config.GRAPHQL_TRUSTED_DOCUMENTS?.get(HASH)).toBe(ME);
    expect(config.GRAPHQL_TRUSTED_DOCUMENTS_MODE).toBe('audit');
    expect(loadConfig({ GRAPHQL_TRUSTED_DOCUMENTS: file, GRAPHQL_TRUSTED_DOCUMENTS_MODE: 'enforce' }).GRAPHQL_TRUSTED_DOCUMENTS_MODE).toBe('enforce');
    expect(loadConfig({}).GRAPHQL_TRUSTED_DOCUMENTS).toBeUndefined();
  });

  it('stops the start with one line naming the variable for a missing or malformed file, or a mode without a file', () => {
    const missing = path.join(dir, 'missing.json');
    expect(() => loadConfig({ GRAPHQL_TRUSTED_DOCUMENTS: missing })).toThrow(ConfigError);
    expect(() => loadConfig({ GRAPHQL_TRUSTED_DOCUMENTS: missing })).toThrow(`GRAPHQL_TRUSTED_DOCUMENTS="${missing}" is invalid: cannot read the file (ENOENT)`);
    const malformed = path.join(dir, 'malformed.json');
    fs.writeFileSync(malformed, '{"sha256:abc": 1}');
    expect(() => loadConfig({ GRAPHQL_TRUSTED_DOCUMENTS: malformed })).toThrow(/GRAPHQL_TRUSTED_DOCUMENTS=".*malformed.json" is invalid: "sha256:abc" is not an id/);
    expect(() => loadConfig({ GRAPHQL_TRUSTED_DOCUMENTS_MODE: 'enforce' })).toThrow(/GRAPHQL_TRUSTED_DOCUMENTS_MODE is set but GRAPHQL_TRUSTED_DOCUMENTS is not/);
    expect(() => loadConfig({ GRAPHQL_TRUSTED_DOCUMENTS: missing, GRAPHQL_TRUSTED_DOCUMENTS_MODE: 'strict' })).toThrow(/GRAPHQL_TRUSTED_DOCUMENTS_MODE="strict" is invalid/);
  });
});

describe('requestedHash', () => {
  const apq = (persistedQuery: unknown) => ({ extensions: { persistedQuery } });

  it('reads documentId with or without "sha256:", and the APQ hash', () => {
    expect(requestedHash({ documentId: `sha256:${HASH}` })).toBe(HASH);
    expect(requestedHash({ documentId: HASH })).toBe(HASH);
    expect(requestedHash(apq({ version: 1, sha256Hash: HASH }))).toBe(HASH);
    expect(requestedHash({ documentId: HASH, ...apq({ version: 1, sha256Hash: HASH }) })).toBe(HASH);
    expect(requestedHash({ query: ME, documentId: null, extensions: { other: true } })).toBeUndefined();
  });

  it.each([
    ['a non-string documentId', { documentId: 42 }],
    ['a documentId of another algorithm', { documentId: `sha1:${HASH.slice(0, 40)}` }],
    ['an upper-case documentId', { documentId: HASH.toUpperCase() }],
    ['a non-object persistedQuery', apq('abc')],
    ['another APQ version', apq({ version: 2, sha256Hash: HASH })],
    ['a non-string sha256Hash', apq({ version: 1, sha256Hash: 42 })],
    ['a short sha256Hash', apq({ version: 1, sha256Hash: HASH.slice(1) })],
    ['two different hashes', { documentId: HASH, ...apq({ version: 1, sha256Hash: sha256('other') }) }],
  ])('answers BAD_REQUEST for %s', (_name, reference) => {
    let thrown: unknown;
    try {
      requestedHash(reference);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DocumentRejection);
    expect(thrown).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
  });
});
