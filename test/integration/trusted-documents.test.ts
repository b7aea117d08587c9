// Trusted documents (GRAPHQL_TRUSTED_DOCUMENTS) and persisted queries, on real gateways and a real
// Redis: a list in codegen's persisted-documents.json format; an audit-mode pair of replicas
// sharing one Redis and database (APQ registered on one is found on the other); an enforce-mode
// gateway in production. Requests by text, by `documentId` and by APQ hash, over POST, GET and
// the websocket; documents outside the list counted and run (audit) or refused with nothing
// executed (enforce); malformed ids answered with their code while the gateways keep serving.
import type { RedisClient } from '../../src/redis/client';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { printExecutableGraphQLDocument } from '@graphql-tools/documents';
import { parse } from 'graphql';
import { withoutClose } from '../support/two-gateways';
import { recordingLogger, startTestGateway, type TestGateway } from '../support/gateway';
import { loginDemoAccounts, type GraphQLErrorBody } from '../support/graphql';
import { openRawSocket, type ProtocolError, type ProtocolMessage, type RawSocket } from '../support/raw-websocket';
import { productStock, writeSnapshot } from '../support/write-snapshot';
import { waitUntil } from '../../src/testing/wait';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** What codegen writes into persisted-documents.json: the normalized text. */
const normalized = (text: string) => printExecutableGraphQLDocument(parse(text));

// Listed, written as a frontend would; the list holds their normalized texts (as codegen does).
const PRODUCT = `query Product($id: ID!) {
  product(id: $id) { name id stock }
}`;
const PRODUCTS = 'query Products { products(first: 2) { edges { node { id name } } } }';
const RESTOCK = 'mutation Restock($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { id stock } }';
const SERVER_TIME = 'subscription ServerTime { serverTime }';
// The tests' own login mutation (support/graphql.ts), listed as a frontend lists its login.
const LOGIN = 'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }';
const LISTED = [PRODUCT, PRODUCTS, RESTOCK, SERVER_TIME, LOGIN];

// Outside the list.
const UNLISTED_QUERY = 'query Unlisted($id: ID!) { product(id: $id) { id sku } }';
const UNLISTED_MUTATION = 'mutation UnlistedRestock($id: ID!, $quantity: Int!) { restockProduct(id: $id, quantity: $quantity) { id stock } }';
const UNLISTED_SUBSCRIPTION = 'subscription UnlistedTime { time: serverTime }';

const idOf = (text: string) => `sha256:${sha256(normalized(text))}`;
const apq = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

interface Answer {
  status: number;
  headers: Headers;
  body: { data?: Record<string, unknown> | null; errors?: GraphQLErrorBody[] };
}

async function post(gateway: TestGateway, body: unknown, token?: string): Promise<Answer> {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer['body'] };
}

async function get(gateway: TestGateway, parameters: Record<string, unknown>): Promise<Answer> {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) search.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  const response = await fetch(`${gateway.url}?${search}`);
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer['body'] };
}

function codeOf(answer: Answer): unknown {
  if (answer.body.errors?.length !== 1) throw new Error(`expected one error, got ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.errors[0]!.extensions?.code;
}

function dataOf(answer: Answer): Record<string, unknown> {
  if (answer.status !== 200 || answer.body.errors || !answer.body.data) throw new Error(`expected data, got ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.data;
}

/** The value of one sample of /metrics (0 when absent: a labelled counter not incremented yet has no sample). */
async function metric(origin: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

const outsideList = (origin: string, outcome: 'run' | 'rejected', transport: 'http' | 'websocket') =>
  metric(origin, 'streamgate_documents_outside_list_total', `outcome="${outcome}",transport="${transport}"`);

let listDir: string;
let listFile: string;
let redis: RedisClient;
const audit = recordingLogger();
const enforceLog = recordingLogger();
let a: TestGateway;
let b: TestGateway;
let enforce: TestGateway;
let adminToken: string;
let enforceAdminToken: string;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  listDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trusted-documents-'));
  listFile = path.join(listDir, 'persisted-documents.json');
  fs.writeFileSync(listFile, JSON.stringify(Object.fromEntries(LISTED.map((text) => [idOf(text), normalized(text)]))));
  // Audit mode is the default once a list is given: the pair does not set the mode.
  a = await startTestGateway({ env: { GRAPHQL_TRUSTED_DOCUMENTS: listFile }, logger: audit.logger });
  // The second replica, on the same Redis and database (what two-gateways.ts does, with a's logger recorded).
  b = await startTestGateway({ env: { GRAPHQL_TRUSTED_DOCUMENTS: listFile }, redis: a.redis, database: withoutClose(a.database) });
  enforce = await startTestGateway({
    env: { GRAPHQL_TRUSTED_DOCUMENTS: listFile, GRAPHQL_TRUSTED_DOCUMENTS_MODE: 'enforce', NODE_ENV: 'production', METRICS_PORT: '0' },
    logger: enforceLog.logger,
  });
  redis = a.redis.connect();
  ({ admin: adminToken } = await loginDemoAccounts(a));
  ({ admin: enforceAdminToken } = await loginDemoAccounts(enforce));
});

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.dispose()));
  redis?.disconnect();
  await b?.stop();
  await a?.stop();
  await enforce?.stop();
  if (listDir) fs.rmSync(listDir, { recursive: true, force: true });
});

async function socketOn(gateway: TestGateway, token?: string): Promise<RawSocket> {
  const socket = await openRawSocket(gateway.wsUrl);
  sockets.push(socket);
  await socket.init(token ? { authorization: `Bearer ${token}` } : undefined);
  return socket;
}

const isReply = (id: string, type: string) => (message: ProtocolMessage) => message.id === id && message.type === type;

async function wsError(socket: RawSocket, id: string, payload: Record<string, unknown>): Promise<ProtocolError[]> {
  socket.send({ type: 'subscribe', id, payload });
  return (await socket.waitForMessage(isReply(id, 'error'), `the error for "${id}"`)).payload as ProtocolError[];
}

describe('audit mode (two replicas sharing Redis)', () => {
  const origin = () => a.url.replace(/\/graphql$/, '');

  it('runs listed documents by text, by documentId (with or without "sha256:") and by APQ hash, over POST and GET, counting none', async () => {
    const variables = { id: '1' };
    const expected = { product: { name: expect.any(String), id: '1', stock: expect.any(Number) } };
    const hash = sha256(normalized(PRODUCT));
    const answers = [
      // The text as the frontend wrote it (not the list's normalized form) is the same document.
      await post(a, { query: PRODUCT, variables }),
      await post(a, { documentId: idOf(PRODUCT), variables }),
      await post(a, { documentId: hash, variables }),
      // The text with its codegen id, as a client sending `print(document)` and `__meta__.hash` does.
      await post(a, { query: PRODUCT, documentId: idOf(PRODUCT), variables }),
      await post(a, { extensions: apq(hash), variables }),
      await get(a, { documentId: idOf(PRODUCT), variables }),
      await get(a, { extensions: apq(hash), variables }),
      await post(b, { documentId: idOf(PRODUCT), variables }),
    ];
    for (const answer of answers) expect(dataOf(answer)).toEqual(expected);
    expect(await outsideList(origin(), 'run', 'http')).toBe(0);
  });

  it('counts, logs (name and id, never variables) and runs a query and a mutation outside the list', async () => {
    const before = await outsideList(origin(), 'run', 'http');
    const secret = 'do-not-log-this-value';
    const answer = await post(a, { query: UNLISTED_QUERY, variables: { id: '1', unused: secret } });
    expect(dataOf(answer)).toEqual({ product: { id: '1', sku: expect.any(String) } });

    const stockBefore = await productStock(a.database.db, 2);
    const restocked = await post(a, { query: UNLISTED_MUTATION, variables: { id: '2', quantity: 3 } }, adminToken);
    expect(dataOf(restocked)).toEqual({ restockProduct: { id: '2', stock: stockBefore + 3 } });
    expect(await productStock(a.database.db, 2)).toBe(stockBefore + 3);

    expect(await outsideList(origin(), 'run', 'http')).toBe(before + 2);
    const warnings = audit.lines.filter((line) => line.msg === 'operation outside the trusted documents ran (audit mode)');
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ operationName: 'Unlisted', documentId: idOf(UNLISTED_QUERY), transport: 'http', outcome: 'run' }),
        expect.objectContaining({ operationName: 'UnlistedRestock', documentId: idOf(UNLISTED_MUTATION) }),
      ]),
    );
    expect(JSON.stringify(audit.lines)).not.toContain(secret);
    expect(JSON.stringify(audit.lines)).not.toContain('"variables"');
  });

  it('shares APQ registrations through Redis: registered on one replica, run by hash alone on the other (POST, GET, websocket)', async () => {
    // A search: never answered from the response cache, so every request below reaches Apollo.
    const text = 'query Registered { products(first: 1, search: "a") { edges { node { id sku } } } }';
    const hash = sha256(text);
    const key = a.redis.keys.persistedQuery(hash);

    const unknown = await post(b, { extensions: apq(hash) });
    expect(codeOf(unknown)).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(unknown.status).toBe(200); // Apollo's status for it: clients then resend with the query
    expect(unknown.headers.get('cache-control')).toBe('private, no-cache, must-revalidate');

    const expected = { products: { edges: [{ node: { id: expect.any(String), sku: expect.any(String) } }] } };
    expect(dataOf(await post(a, { query: text, extensions: apq(hash) }))).toEqual(expected);
    // Apollo stores the registration without waiting for it; b reads it from the shared Redis.
    await waitUntil(async () => (await redis.exists(key)) === 1, 'the registration is in Redis');
    expect(await redis.get(key)).toBe(text);
    expect(await redis.ttl(key)).toBeGreaterThan(0);

    expect(dataOf(await post(b, { extensions: apq(hash) }))).toEqual(expected);
    expect(dataOf(await get(b, { extensions: apq(hash) }))).toEqual(expected);
    const socket = await socketOn(b);
    socket.send({ type: 'subscribe', id: 'apq', payload: { query: '', extensions: apq(hash) } });
    const [result] = await socket.waitForNext<{ data: unknown }>('apq', 1);
    expect(result!.data).toEqual(expected);
  });

  it('answers hash-only requests from the response cache like any other', async () => {
    const readHits = async () => {
      const text = await (await fetch(`${origin()}/metrics`)).text();
      return Number(/^streamgate_response_cache_hits_total (\d+)/m.exec(text)?.[1] ?? 'NaN');
    };
    const first = await post(a, { documentId: idOf(PRODUCTS) });
    const before = await readHits();
    const second = await post(a, { documentId: idOf(PRODUCTS) });
    expect(second.body).toEqual(first.body);
    expect(dataOf(second)).toEqual({ products: { edges: [{ node: { id: '1', name: expect.any(String) } }, { node: { id: '2', name: expect.any(String) } }] } });
    expect(await readHits()).toBe(before + 1);
  });

  it('runs listed subscriptions by documentId over the websocket, and counts one outside the list', async () => {
    const before = await outsideList(origin(), 'run', 'websocket');
    const socket = await socketOn(a);
    socket.send({ type: 'subscribe', id: 'listed', payload: { query: '', documentId: idOf(SERVER_TIME) } });
    socket.send({ type: 'subscribe', id: 'unlisted', payload: { query: UNLISTED_SUBSCRIPTION } });
    const [listed] = await socket.waitForNext<{ data: { serverTime: string } }>('listed', 1);
    const [unlisted] = await socket.waitForNext<{ data: { time: string } }>('unlisted', 1);
    expect(Date.parse(listed!.data.serverTime)).not.toBeNaN();
    expect(Date.parse(unlisted!.data.time)).not.toBeNaN();
    expect(await outsideList(origin(), 'run', 'websocket')).toBe(before + 1);
  });

  it('answers malformed, unknown and mismatched hashes with their code, stores nothing, and keeps serving', async () => {
    const wrongHash = sha256('query Other { me { id } }');
    const cases: Array<[string, Answer, string, number]> = [
      ['non-string documentId', await post(a, { documentId: 42 }), 'BAD_REQUEST', 400],
      ['documentId not a hash', await post(a, { documentId: 'sha256:xyz' }), 'BAD_REQUEST', 400],
      ['non-string sha256Hash', await post(a, { extensions: { persistedQuery: { version: 1, sha256Hash: 42 } } }), 'BAD_REQUEST', 400],
      ['persistedQuery not an object', await post(a, { extensions: { persistedQuery: 'abc' } }), 'BAD_REQUEST', 400],
      ['unsupported APQ version', await post(a, { extensions: { persistedQuery: { version: 2, sha256Hash: wrongHash } } }), 'BAD_REQUEST', 400],
      ['unknown documentId', await post(a, { documentId: `sha256:${'0'.repeat(64)}` }), 'PERSISTED_QUERY_NOT_FOUND', 200],
      ['hash not matching the query', await post(a, { query: UNLISTED_QUERY, variables: { id: '1' }, extensions: apq(wrongHash) }), 'BAD_REQUEST', 400],
      ['documentId not matching the query', await post(a, { query: UNLISTED_QUERY, variables: { id: '1' }, documentId: idOf(PRODUCT) }), 'BAD_REQUEST', 400],
      ['GET with a non-string sha256Hash', await get(a, { extensions: { persistedQuery: { version: 1, sha256Hash: [1] } } }), 'BAD_REQUEST', 400],
      ['GET with two documentIds', await fetchTwice(a), 'BAD_REQUEST', 400],
      ['GET unknown hash', await get(a, { extensions: apq('f'.repeat(64)) }), 'PERSISTED_QUERY_NOT_FOUND', 200],
    ];
    for (const [name, answer, code, status] of cases) {
      expect({ name, code: codeOf(answer), status: answer.status }).toEqual({ name, code, status });
    }
    await Promise.all([post(b, { query: PRODUCT, variables: { id: '1' } })]); // one more round trip on the pair
    expect(await redis.exists(a.redis.keys.persistedQuery(wrongHash))).toBe(0);

    const socket = await socketOn(a);
    expect((await wsError(socket, 'bad', { query: '', documentId: 42 }))[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect((await wsError(socket, 'unknown', { query: '', documentId: 'f'.repeat(64) }))[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect((await wsError(socket, 'mismatch', { query: SERVER_TIME, extensions: apq(wrongHash) }))[0]?.extensions?.code).toBe('BAD_REQUEST');
    // The socket and the gateway go on serving.
    socket.send({ type: 'subscribe', id: 'after', payload: { query: '', documentId: idOf(SERVER_TIME) } });
    await socket.waitForNext('after', 1);
    expect(dataOf(await post(a, { documentId: idOf(PRODUCT), variables: { id: '1' } }))).toEqual({ product: expect.objectContaining({ id: '1' }) });
  });
});

/** A GET naming `documentId` twice (Apollo's rule for its own parameters, applied to this one too). */
async function fetchTwice(gateway: TestGateway): Promise<Answer> {
  const response = await fetch(`${gateway.url}?documentId=${encodeURIComponent(idOf(PRODUCT))}&documentId=${encodeURIComponent(idOf(PRODUCTS))}`);
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer['body'] };
}

describe('enforce mode (production)', () => {
  const origin = () => enforce.operatorOrigin!;

  it('runs only listed documents: by text, documentId and APQ hash over POST, GET and the websocket', async () => {
    const variables = { id: '1' };
    const hash = sha256(normalized(PRODUCT));
    for (const answer of [
      await post(enforce, { query: PRODUCT, variables }),
      await post(enforce, { documentId: idOf(PRODUCT), variables }),
      await post(enforce, { extensions: apq(hash), variables }),
      await get(enforce, { documentId: idOf(PRODUCT), variables }),
      await get(enforce, { query: PRODUCT, variables }),
    ]) {
      expect(dataOf(answer)).toEqual({ product: expect.objectContaining({ id: '1' }) });
    }
    const socket = await socketOn(enforce);
    socket.send({ type: 'subscribe', id: 'listed', payload: { query: '', documentId: idOf(SERVER_TIME) } });
    await socket.waitForNext('listed', 1);
  });

  it('refuses a query outside the list with PERSISTED_QUERY_NOT_IN_LIST, over POST and GET, and counts it', async () => {
    const before = await outsideList(origin(), 'rejected', 'http');
    const answers = [await post(enforce, { query: UNLISTED_QUERY, variables: { id: '1' } }), await get(enforce, { query: UNLISTED_QUERY, variables: { id: '1' } })];
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' } }] });
    }
    expect(await outsideList(origin(), 'rejected', 'http')).toBe(before + 2);
    expect(enforceLog.lines).toEqual(
      expect.arrayContaining([expect.objectContaining({ msg: 'operation outside the trusted documents refused', operationName: 'Unlisted', documentId: idOf(UNLISTED_QUERY) })]),
    );
  });

  it('refuses a mutation outside the list before it runs: the database and the streams are unchanged', async () => {
    const { keys, redis: gatewayRedis, database } = enforce.app;
    const before = await writeSnapshot(database.db, gatewayRedis, keys);
    const stock = await productStock(database.db, 2);
    // An admin's restock, which would run but for the list.
    const refused = await post(enforce, { query: UNLISTED_MUTATION, variables: { id: '2', quantity: 5 } }, enforceAdminToken);
    expect(codeOf(refused)).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    expect(await writeSnapshot(database.db, gatewayRedis, keys)).toEqual(before);
    // The same change as a listed document runs, with the same session (by id, then by APQ hash:
    // a mutation is never answered from the response cache, so these reach Apollo).
    const listed = await post(enforce, { documentId: idOf(RESTOCK), variables: { id: '2', quantity: 5 } }, enforceAdminToken);
    expect(dataOf(listed)).toEqual({ restockProduct: { id: '2', stock: stock + 5 } });
    const byApqHash = await post(enforce, { extensions: apq(sha256(normalized(RESTOCK))), variables: { id: '2', quantity: 1 } }, enforceAdminToken);
    expect(dataOf(byApqHash)).toEqual({ restockProduct: { id: '2', stock: stock + 6 } });
  });

  it('never registers APQ, and does not run a hash registered in Redis before (an audit period)', async () => {
    const hash = sha256(UNLISTED_QUERY);
    const key = enforce.redis.keys.persistedQuery(hash);
    const registration = await post(enforce, { query: UNLISTED_QUERY, variables: { id: '1' }, extensions: apq(hash) });
    expect(codeOf(registration)).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    const listedHash = sha256(PRODUCT);
    expect(dataOf(await post(enforce, { query: PRODUCT, variables: { id: '1' }, extensions: apq(listedHash) }))).toEqual({ product: expect.objectContaining({ id: '1' }) });
    const enforceRedis = enforce.redis.connect();
    try {
      expect(await enforceRedis.exists(key, enforce.redis.keys.persistedQuery(listedHash))).toBe(0);
      await enforceRedis.set(key, UNLISTED_QUERY);
      const hashOnly = await post(enforce, { extensions: apq(hash), variables: { id: '1' } });
      expect(codeOf(hashOnly)).toBe('PERSISTED_QUERY_NOT_IN_LIST');
      expect(hashOnly.body.errors![0]!.extensions).toEqual({ code: 'PERSISTED_QUERY_NOT_IN_LIST' }); // no stack trace in production
    } finally {
      enforceRedis.disconnect();
    }
  });

  it('refuses a subscription outside the list on the websocket, which goes on serving', async () => {
    const before = await outsideList(origin(), 'rejected', 'websocket');
    const socket = await socketOn(enforce);
    const errors = await wsError(socket, 'unlisted', { query: UNLISTED_SUBSCRIPTION });
    expect(errors).toEqual([{ message: expect.any(String), extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST' } }]);
    const byHash = await wsError(socket, 'unknown', { query: '', documentId: idOf(UNLISTED_SUBSCRIPTION) });
    expect(byHash[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    expect(await outsideList(origin(), 'rejected', 'websocket')).toBe(before + 2);
    socket.send({ type: 'subscribe', id: 'listed', payload: { query: SERVER_TIME } });
    await socket.waitForNext('listed', 1);
  });
});
