import { backoffMs } from '../../src/backoff';

const schedule = (retries: number, options: { firstMs: number; maxMs: number }) =>
  Array.from({ length: retries }, (_, index) => backoffMs(index + 1, options));

it('doubles from firstMs on each retry and stops at maxMs', () => {
  expect(schedule(8, { firstMs: 100, maxMs: 5000 })).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  expect(schedule(5, { firstMs: 200, maxMs: 2000 })).toEqual([200, 400, 800, 1600, 2000]);
});

it('stays at maxMs however many retries there were', () => {
  expect(backoffMs(5000, { firstMs: 100, maxMs: 5000 })).toBe(5000);
});
