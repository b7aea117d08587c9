// The logs operators read: ISO-8601 timestamps, one access log line per HTTP request at debug
// (method, route, operation name, status, duration, request id; never the query string), and
// error logs without user values (a failed statement's parameters, an email).
import { sql } from 'drizzle-orm';
import { createLogger } from '../../src/logger';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { waitUntil } from '../../src/testing/wait';

const lines: Array<Record<string, unknown>> = [];
let gateway: TestGateway;

beforeAll(async () => {
  const logger = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  gateway = await startTestGateway({ seed: { users: 2, products: 3, orders: 0 }, logger });
});

afterAll(async () => {
  await gateway.stop();
});

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

async function accessLineOf(requestId: string): Promise<Record<string, unknown>> {
  const find = () => lines.find((line) => line.msg === 'request completed' && line.requestId === requestId);
  await waitUntil(async () => find() !== undefined, `the access log line of ${requestId}`);
  return find()!;
}

it('writes one access log line per request, with an ISO timestamp', async () => {
  const response = await gateway.graphql('query AccessLogProbe { product(id: "1") { id } }', { headers: { 'x-request-id': 'access-log-1' } });
  expect(response.status).toBe(200);
  const line = await accessLineOf('access-log-1');
  expect(line).toMatchObject({ level: 20, method: 'POST', route: '/graphql', operationName: 'AccessLogProbe', statusCode: 200, requestId: 'access-log-1' });
  expect(typeof line.durationMs).toBe('number');
  expect(line.time).toMatch(ISO_TIMESTAMP);
  expect(lines.filter((logged) => logged.requestId === 'access-log-1' && logged.msg === 'request completed')).toHaveLength(1);
});

it('logs the route, not the query string a GET carries its variables in', async () => {
  const query = encodeURIComponent('query Lookup($email: String) { products(first: 1, search: $email) { edges { node { id } } } }');
  const variables = encodeURIComponent(JSON.stringify({ email: 'secret-get@example.com' }));
  const response = await fetch(`${gateway.url}?query=${query}&variables=${variables}`, { headers: { 'x-request-id': 'access-log-get', 'apollo-require-preflight': 'true' } });
  expect(response.status).toBe(200);
  const line = await accessLineOf('access-log-get');
  expect(line).toMatchObject({ method: 'GET', route: '/graphql', operationName: 'Lookup', statusCode: 200 });
  expect(JSON.stringify(line)).not.toContain('secret-get');
});

it('logs requests outside GraphQL too (no operation), and 404s without their query string', async () => {
  await fetch(`${new URL(gateway.url).origin}/nowhere?token=abc123`, { headers: { 'x-request-id': 'access-log-404' } });
  const line = await accessLineOf('access-log-404');
  expect(line).toMatchObject({ method: 'GET', route: '/nowhere', statusCode: 404 });
  expect(line.operationName).toBeUndefined();
  expect(JSON.stringify(line)).not.toContain('abc123');
});

// Last: it breaks the users table.
it('logs a failed statement without its parameters (the email a login looked up)', async () => {
  await gateway.app.database.db.execute(sql`alter table users rename column email to email_hidden`);
  const response = await gateway.graphql('mutation { login(email: "alice@streamgate.dev", password: "alice-password") { token } }', {
    headers: { 'x-request-id': 'error-log-1' },
  });
  expect(response.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
  const find = () => lines.find((line) => line.msg === 'operation failed' && line.requestId === 'error-log-1');
  await waitUntil(async () => find() !== undefined, 'the error is logged');
  const logged = JSON.stringify(find());
  expect(logged).toContain('Failed query');
  expect(logged).toContain('$1');
  expect(logged).not.toContain('alice@streamgate.dev');
  expect(logged).not.toContain('params');
  expect(JSON.stringify(lines)).not.toContain('alice@streamgate.dev');
});
