// In production /metrics and the /readyz details (check errors that name hosts, the outbox
// backlog) are not served on the public API port: only on METRICS_PORT. Load balancers keep
// /healthz and a bare /readyz status on the API port.
import { startTestGateway, type TestGateway } from '../support/gateway';

let gateway: TestGateway;
let apiOrigin: string;
let operatorOrigin: string;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 2, products: 2, orders: 0 }, env: { NODE_ENV: 'production', METRICS_PORT: '0' } });
  apiOrigin = new URL(gateway.url).origin;
  operatorOrigin = gateway.operatorOrigin!;
});

afterAll(async () => {
  await gateway.stop();
});

it('keeps /metrics and the /readyz details off the API port in production', async () => {
  expect((await fetch(`${apiOrigin}/metrics`)).status).toBe(404);
  const ready = await fetch(`${apiOrigin}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready' });
  expect((await fetch(`${apiOrigin}/healthz`)).status).toBe(200);
});

it('serves them on METRICS_PORT', async () => {
  const metrics = await fetch(`${operatorOrigin}/metrics`);
  expect(metrics.status).toBe(200);
  expect(await metrics.text()).toContain('streamgate_');
  const ready = (await (await fetch(`${operatorOrigin}/readyz`)).json()) as { status: string; checks?: Record<string, string> };
  expect(ready).toMatchObject({ status: 'ready', checks: { redis: 'ok', database: 'ok' } });
  // Nothing else: the GraphQL API is not on the operator port.
  expect((await fetch(`${operatorOrigin}/graphql`, { method: 'POST' })).status).toBe(404);
});
