// The retry-then-hold rule for a mutation's own invalidation (src/cache/unconfirmed-invalidations.ts),
// with an invalidation that fails on demand. The gateway-level behaviour (reads around the cache
// while held) is test/integration/unpublished-invalidation.test.ts.
import type { StaleEntries } from '../../src/cache/invalidation';
import { UnconfirmedInvalidations } from '../../src/cache/unconfirmed-invalidations';

const product1: StaleEntries = { type: 'Product.v1', name: 'Product', keyIds: ['1'], part: 'volatile' };
const product2: StaleEntries = { type: 'Product.v1', name: 'Product', keyIds: ['2'] };

/** An invalidation that fails its first `failures` calls (Infinity: until `succeed()`). */
function flakyInvalidation(failures: number) {
  let calls = 0;
  let remaining = failures;
  return {
    invalidate: async () => {
      calls += 1;
      if (remaining > 0) {
        remaining -= 1;
        throw new Error('Command timed out');
      }
    },
    calls: () => calls,
    succeed: () => void (remaining = 0),
  };
}

let unconfirmed: UnconfirmedInvalidations | undefined;
afterEach(() => unconfirmed?.stop());

it('retries within the bound and holds nothing once an attempt succeeds', async () => {
  const flaky = flakyInvalidation(2);
  const held: unknown[] = [];
  unconfirmed = new UnconfirmedInvalidations({ invalidate: flaky.invalidate, retryDelayMs: 1, onHeld: (entries) => held.push(entries) });
  await unconfirmed.confirm([product1], 1000);
  expect(flaky.calls()).toBe(3);
  expect(held).toEqual([]);
  expect(unconfirmed.isAnyHeld).toBe(false);
});

it('holds the keys when the bound runs out, and releases them once a background attempt succeeds', async () => {
  const flaky = flakyInvalidation(Infinity);
  let confirmed!: () => void;
  const isConfirmed = new Promise<void>((resolve) => (confirmed = resolve));
  unconfirmed = new UnconfirmedInvalidations({ invalidate: flaky.invalidate, retryDelayMs: 1, maxRetryDelayMs: 2, onConfirmed: () => confirmed() });
  await unconfirmed.confirm([product1, product2], 10);
  expect(unconfirmed.isHeld('Product.v1', '1')).toBe(true);
  expect(unconfirmed.isHeld('Product.v1', '2')).toBe(true);
  expect(unconfirmed.isHeld('Product.v1', '3')).toBe(false);
  expect(unconfirmed.isHeld('User.v1', '1')).toBe(false);
  expect(unconfirmed.isTypeHeld('Product.v1')).toBe(true);
  expect(unconfirmed.isAnyHeld).toBe(true);
  const callsWhileHeld = flaky.calls();
  flaky.succeed();
  await isConfirmed;
  expect(flaky.calls()).toBeGreaterThan(callsWhileHeld);
  expect(unconfirmed.isAnyHeld).toBe(false);
  expect(unconfirmed.isTypeHeld('Product.v1')).toBe(false);
});

it('retries every held invalidation together, in one call per attempt, and releases them all when it succeeds', async () => {
  const calls: Array<readonly StaleEntries[]> = [];
  let isFailing = true;
  let confirmed!: (entries: readonly StaleEntries[]) => void;
  const isConfirmed = new Promise<readonly StaleEntries[]>((resolve) => (confirmed = resolve));
  unconfirmed = new UnconfirmedInvalidations({
    invalidate: async (entries) => {
      calls.push(entries);
      if (isFailing) throw new Error('Command timed out');
    },
    retryDelayMs: 1,
    maxRetryDelayMs: 2,
    onConfirmed: (entries) => confirmed(entries),
  });
  // Three mutations, two naming product 1: each gives up at once (bound 0) and is held.
  await unconfirmed.confirm([product1], 0);
  await unconfirmed.confirm([product1], 0);
  await unconfirmed.confirm([product2], 0);
  const heldCalls = calls.length;
  isFailing = false;
  const released = await isConfirmed;
  expect(calls.length - heldCalls).toBeGreaterThanOrEqual(1);
  // The successful attempt carried every held invalidation at once.
  expect(released).toEqual([product1, product1, product2]);
  expect(unconfirmed.isAnyHeld).toBe(false);
});
