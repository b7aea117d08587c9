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

it('keeps a key held while another unconfirmed invalidation still names it', async () => {
  const first = flakyInvalidation(Infinity);
  const second = flakyInvalidation(Infinity);
  let confirmedCount = 0;
  let firstConfirmed!: () => void;
  const isFirstConfirmed = new Promise<void>((resolve) => (firstConfirmed = resolve));
  // One invalidate function; which fake answers depends on the entries it is given.
  unconfirmed = new UnconfirmedInvalidations({
    invalidate: (entries) => (entries[0]!.keyIds.includes('2') ? second.invalidate() : first.invalidate()),
    retryDelayMs: 1,
    maxRetryDelayMs: 2,
    onConfirmed: () => {
      confirmedCount += 1;
      firstConfirmed();
    },
  });
  await unconfirmed.confirm([product1], 5);
  await unconfirmed.confirm([{ ...product1, keyIds: ['1', '2'] }], 5);
  first.succeed();
  await isFirstConfirmed;
  expect(confirmedCount).toBe(1);
  expect(unconfirmed.isHeld('Product.v1', '1')).toBe(true);
  expect(unconfirmed.isHeld('Product.v1', '2')).toBe(true);
});
