// The per-operation metrics (streamgate_graphql_*), read from /metrics as Prometheus scrapes them:
// duration, SQL statements and Redis round trips of each request under its operation's labels
// (counted through the request's own loaders), response-cache hits by operation, errors by
// extensions.code, active subscriptions by root field, the outbox publish lag, and the bound on
// operation names a client can create.
import { loginDemoAccounts, mutate } from '../support/graphql';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { startSubscriber } from '../support/subscriber';
import { waitUntil } from '../../src/testing/wait';

let gateway: TestGateway;
let metricsUrl: string;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 2, products: 5, orders: 0 } });
  metricsUrl = `${new URL(gateway.url).origin}/metrics`;
});

afterAll(async () => {
  await gateway.stop();
});

/** The value of the sample `name` whose labels include `labels` (undefined when there is none). */
async function sample(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]));
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) return Number(match[3]);
  }
  return undefined;
}

async function labelValues(name: string, label: string): Promise<Set<string>> {
  const text = await (await fetch(metricsUrl)).text();
  const values = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const value = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1];
    if (value !== undefined) values.add(value);
  }
  return values;
}

const query = (name: string) => ({ operationName: name, operationType: 'query' });

it('observes each request under its operation: duration, SQL statements and Redis round trips', async () => {
  // A product no request read yet: one response-cache lookup, one readOrLease, one statement, one write-back.
  const cold = await gateway.graphql('query ColdProduct { product(id: "3") { id name } }');
  expect(cold.body.errors).toBeUndefined();
  expect(await sample('streamgate_graphql_request_duration_seconds_count', query('ColdProduct'))).toBe(1);
  expect(await sample('streamgate_graphql_request_sql_statements_sum', query('ColdProduct'))).toBe(1);
  expect(await sample('streamgate_graphql_request_redis_round_trips_sum', query('ColdProduct'))).toBe(3);

  // The same product, now cached, through another document (so not a response-cache hit): no SQL.
  await gateway.graphql('query WarmProduct { product(id: "3") { id name } }');
  expect(await sample('streamgate_graphql_request_sql_statements_sum', query('WarmProduct'))).toBe(0);
  expect(await sample('streamgate_graphql_request_sql_statements_bucket', { ...query('WarmProduct'), le: '0' })).toBe(1);
  expect(await sample('streamgate_graphql_request_redis_round_trips_sum', query('WarmProduct'))).toBe(2);
  expect(await sample('streamgate_graphql_response_cache_misses_total', { operationName: 'WarmProduct' })).toBe(1);

  // Again: answered from the response cache before GraphQL runs, and still observed; from the
  // copy this replica holds in memory, so with no Redis round trip of its own.
  await gateway.graphql('query WarmProduct { product(id: "3") { id name } }');
  expect(await sample('streamgate_graphql_response_cache_hits_total', { operationName: 'WarmProduct' })).toBe(1);
  expect(await sample('streamgate_graphql_request_duration_seconds_count', query('WarmProduct'))).toBe(2);
  expect(await sample('streamgate_graphql_request_sql_statements_sum', query('WarmProduct'))).toBe(0);
  expect(await sample('streamgate_graphql_request_redis_round_trips_sum', query('WarmProduct'))).toBe(2);
  expect(await sample('streamgate_response_cache_held_hits_total', {})).toBe(1);
});

it('attributes statements to the request that made them while requests run concurrently', async () => {
  // Distinct variables per request: no two share a response-cache entry; every one reads a cold page.
  await Promise.all(
    [1, 2, 3, 4].map((first) => gateway.graphql('query Catalogue($first: Int!) { products(first: $first) { edges { node { id } } } }', { variables: { first } })),
  );
  expect(await sample('streamgate_graphql_request_duration_seconds_count', query('Catalogue'))).toBe(4);
  // Each request made exactly its own page query (its rows are primed, so no second read): a
  // statement counted on the wrong request would leave one at 0 and another at 2.
  expect(await sample('streamgate_graphql_request_sql_statements_bucket', { ...query('Catalogue'), le: '0' })).toBe(0);
  expect(await sample('streamgate_graphql_request_sql_statements_bucket', { ...query('Catalogue'), le: '1' })).toBe(4);
});

it('counts errors by extensions.code, under the operation when it resolved', async () => {
  await gateway.graphql('query Broken { product(id: "1") { noSuchField } }');
  expect(await sample('streamgate_graphql_errors_total', { code: 'GRAPHQL_VALIDATION_FAILED', operationName: 'unknown' })).toBe(1);
  const denied = await gateway.graphql('query MyNotifications { notifications(first: 1) { edges { node { id } } } }');
  expect(denied.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(await sample('streamgate_graphql_errors_total', { code: 'UNAUTHENTICATED', ...query('MyNotifications') })).toBe(1);
  await gateway.graphql('{ me { id } }', { token: 'not-a-session' });
  expect(await sample('streamgate_graphql_errors_total', { code: 'UNAUTHENTICATED', operationName: 'unknown' })).toBe(1);
});

it('keeps a gauge of active subscriptions by root field', async () => {
  const subscriber = startSubscriber({ urls: gateway.wsUrl, query: 'subscription ($id: ID!) { productChanged(id: $id) { cursor } }', field: 'productChanged', variables: { id: '2' } });
  try {
    await waitUntil(async () => (await sample('streamgate_graphql_subscriptions_active', { field: 'productChanged' })) === 1, 'the subscription is counted');
  } finally {
    await subscriber.dispose();
  }
  await waitUntil(async () => (await sample('streamgate_graphql_subscriptions_active', { field: 'productChanged' })) === 0, 'the ended subscription is no longer counted');
});

it('observes the publish lag of each outbox row the relay publishes', async () => {
  const before = (await sample('streamgate_outbox_publish_lag_seconds_count')) ?? 0;
  const { admin } = await loginDemoAccounts(gateway);
  await mutate(gateway, 'mutation { updateProduct(id: "4", input: { priceCents: 4242 }) { id } }', {}, admin);
  await waitUntil(async () => ((await sample('streamgate_outbox_publish_lag_seconds_count')) ?? 0) > before, 'the relay observed the row');
  const lagSeconds = ((await sample('streamgate_outbox_publish_lag_seconds_sum')) ?? 0) / ((await sample('streamgate_outbox_publish_lag_seconds_count')) ?? 1);
  expect(lagSeconds).toBeGreaterThanOrEqual(0);
  expect(lagSeconds).toBeLessThan(30);
});

it('bounds operation names: after the first 100 distinct ones, the rest count as "other"', async () => {
  for (let index = 0; index < 110; index += 1) await gateway.graphql(`query Generated${index} { __typename }`);
  const names = await labelValues('streamgate_graphql_request_duration_seconds_count', 'operationName');
  // 100 admitted names (those of the earlier tests among them), plus "anonymous", "unknown" and "other".
  expect(names.size).toBeLessThanOrEqual(103);
  expect(names).toContain('other');
  expect(names).not.toContain('Generated109');
  expect(await sample('streamgate_graphql_request_duration_seconds_count', query('other'))).toBeGreaterThanOrEqual(10);
});
