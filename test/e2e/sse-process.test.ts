// SIGTERM with SSE streams open, on a real gateway process (src/main.ts): each stream ends without
// `complete` (a comment says why), so EventSource and graphql-sse's client reconnect to another
// replica with Last-Event-ID, and the process still drains and exits 0 rather than waiting on
// responses that never end by themselves.
import { createGatewayDatabase, startGatewayProcess, type GatewayDatabase, type GatewayProcess } from '../support/gateway-process';
import { startTestRedis, type TestRedis } from '../../src/testing/redis-topology';
import { openSse, type SseResponse } from '../support/sse-client';

let testRedis: TestRedis;
let database: GatewayDatabase;
let gateway: GatewayProcess;
const streams: SseResponse[] = [];

beforeAll(async () => {
  testRedis = await startTestRedis();
  database = await createGatewayDatabase();
  gateway = await startGatewayProcess({ env: { ...testRedis.env, ...database.env } });
}, 90_000);

afterAll(async () => {
  for (const stream of streams) stream.close();
  await gateway?.kill();
  await database?.dispose();
  await testRedis?.stop();
});

it('ends open SSE streams without complete on SIGTERM and exits 0', async () => {
  for (const query of ['subscription { serverTime }', 'subscription { productChanged(id: "1") { cursor } }']) {
    const stream = await openSse(gateway.url, { query });
    streams.push(stream);
    expect(stream.status).toBe(200);
  }
  await streams[0]!.waitForNext(1);

  const exit = gateway.stop('SIGTERM');
  for (const stream of streams) {
    await stream.waitForEnd();
    expect(stream.events.filter((event) => event.event === 'complete')).toEqual([]);
    expect(stream.comments.at(-1)).toMatch(/shutting down/);
  }
  expect(await exit).toEqual({ code: 0, signal: null });
}, 60_000);
