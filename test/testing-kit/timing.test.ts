// A second test file for the same Jest worker: when it runs after execute.test.ts in one worker
// (--runInBand), its gateway boots from the snapshot that file made, which is the "after the
// first boot in its process" figure docs/extending.md gives. Alone, it pays the first boot itself.
import { performance } from 'node:perf_hooks';
import { createTestGateway, type TestGateway } from 'streamgate/testing';

let gateway: TestGateway;
let bootMs = 0;

beforeAll(async () => {
  const started = performance.now();
  gateway = await createTestGateway();
  bootMs = performance.now() - started;
});
afterAll(() => gateway?.close());

test('a gateway boots and answers', async () => {
  console.log(`boot: ${bootMs.toFixed(0)} ms`);
  expect((await gateway.execute('query { product(id: "2") { id } }')).data).toEqual({ product: { id: '2' } });
});

// The figures are printed for docs/extending.md, not asserted: speed is a measurement, not a test.
test('reset() removes what each round added (timed for the docs)', async () => {
  const timings: number[] = [];
  for (let round = 0; round < 5; round += 1) {
    const added = await gateway.fixtures.product();
    const started = performance.now();
    await gateway.reset();
    timings.push(performance.now() - started);
    expect((await gateway.execute(`query { product(id: "${added.id}") { id } }`)).data).toEqual({ product: null });
  }
  console.log(`boot ${bootMs.toFixed(0)} ms; reset x5: ${timings.map((ms) => ms.toFixed(0)).join(', ')} ms`);
});
