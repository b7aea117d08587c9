// LeaseWaiters batches every reader waiting on another reader's lease into one peek per cache type
// per tick. Driven with Jest's fake clock and a fake peek whose replies the test decides.
import { LeaseWaiters, type Peek, type PeekReply, type WaitOutcome } from '../../src/cache/lease-waiters';

const INTERVAL_MS = 5;
const VERSIONS = { stable: 's1', volatile: 'v1' };

interface PeekCall {
  typeKey: string;
  hasVolatilePart: boolean;
  entries: Array<{ keyId: string; field: string }>;
}

/** A peek that answers every entry from `replies` (keyed "keyId field"), 0 (lease held) by default. */
function fakePeek() {
  const calls: PeekCall[] = [];
  const replies = new Map<string, PeekReply>();
  let failure: Error | null = null;
  const peek: Peek = async (typeKey, hasVolatilePart, entries) => {
    calls.push({ typeKey, hasVolatilePart, entries: entries.map(({ keyId, field }) => ({ keyId, field })) });
    if (failure) throw failure;
    return entries.map(({ keyId, field }) => replies.get(`${keyId} ${field}`) ?? 0);
  };
  return {
    peek,
    calls,
    reply: (keyId: string, field: string, reply: PeekReply) => replies.set(`${keyId} ${field}`, reply),
    failWith: (error: Error | null) => (failure = error),
  };
}

/** Tracks a wait's outcome without awaiting it. */
function track(promise: Promise<WaitOutcome>) {
  const state: { outcome?: WaitOutcome } = {};
  void promise.then((outcome) => (state.outcome = outcome));
  return state;
}

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  jest.useRealTimers();
});

it('polls a type once per tick for all its waiters, each entry once however many wait on it', async () => {
  const fake = fakePeek();
  const waiters = new LeaseWaiters(fake.peek, INTERVAL_MS);
  const deadline = Date.now() + 1000;
  for (let i = 0; i < 50; i += 1) void waiters.wait('Product.v1', false, '7', '_', deadline);
  void waiters.wait('Product.v1', false, '8', '_', deadline);
  expect(fake.calls).toHaveLength(0);
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(fake.calls).toEqual([{ typeKey: 'Product.v1', hasVolatilePart: false, entries: [{ keyId: '7', field: '_' }, { keyId: '8', field: '_' }] }]);
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(fake.calls).toHaveLength(2);
});

it('hands a value found to every waiter of that entry, with its versions', async () => {
  const fake = fakePeek();
  const waiters = new LeaseWaiters(fake.peek, INTERVAL_MS);
  const deadline = Date.now() + 1000;
  const first = track(waiters.wait('Product.v1', false, '7', '_', deadline));
  const second = track(waiters.wait('Product.v1', false, '7', '_', deadline));
  const other = track(waiters.wait('Product.v1', false, '8', '_', deadline));
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(first.outcome).toBeUndefined();
  fake.reply('7', '_', { value: '["lamp"]', versions: VERSIONS });
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(first.outcome).toEqual({ kind: 'value', raw: '["lamp"]', versions: VERSIONS });
  expect(second.outcome).toEqual(first.outcome);
  expect(other.outcome).toBeUndefined();
});

it('tells waiters to retry when there is neither a value nor a live lease (the holder gave up or was invalidated)', async () => {
  const fake = fakePeek();
  const waiters = new LeaseWaiters(fake.peek, INTERVAL_MS);
  const waiting = track(waiters.wait('Order.v1', false, '3', '_', Date.now() + 1000));
  fake.reply('3', '_', 1);
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(waiting.outcome).toEqual({ kind: 'retry' });
});

it('times a waiter out at its own deadline while the lease is still held, not before', async () => {
  const fake = fakePeek();
  const waiters = new LeaseWaiters(fake.peek, INTERVAL_MS);
  const early = track(waiters.wait('Order.v1', false, '3', '_', Date.now() + 20));
  const late = track(waiters.wait('Order.v1', false, '3', '_', Date.now() + 100));
  await jest.advanceTimersByTimeAsync(15);
  expect(early.outcome).toBeUndefined();
  await jest.advanceTimersByTimeAsync(10);
  expect(early.outcome).toEqual({ kind: 'timeout' });
  expect(late.outcome).toBeUndefined();
  await jest.advanceTimersByTimeAsync(80);
  expect(late.outcome).toEqual({ kind: 'timeout' });
});

it('answers a wait whose deadline has passed at once, without polling', async () => {
  const fake = fakePeek();
  const waiters = new LeaseWaiters(fake.peek, INTERVAL_MS);
  await expect(waiters.wait('Order.v1', false, '3', '_', Date.now())).resolves.toEqual({ kind: 'timeout' });
  await jest.advanceTimersByTimeAsync(50);
  expect(fake.calls).toHaveLength(0);
});

it('sends waiters back to the normal path (retry) when the peek fails: Redis trouble fails open', async () => {
  const fake = fakePeek();
  fake.failWith(new Error('Connection is closed.'));
  const waiters = new LeaseWaiters(fake.peek, INTERVAL_MS);
  const waiting = track(waiters.wait('Order.v1', false, '3', '_', Date.now() + 1000));
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(waiting.outcome).toEqual({ kind: 'retry' });
});

it("gives a waiter no answer from a poll sent before it arrived (that value may predate a write it must see)", async () => {
  let release!: (replies: PeekReply[]) => void;
  const calls: string[][] = [];
  const waiters = new LeaseWaiters(
    (_type, _volatile, entries) =>
      new Promise((resolve) => {
        calls.push(entries.map((entry) => entry.keyId));
        release = resolve;
      }),
    INTERVAL_MS,
  );
  const deadline = Date.now() + 1000;
  const before = track(waiters.wait('Product.v1', false, '7', '_', deadline));
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(calls).toHaveLength(1);
  // Arrives while that poll is in flight, for the same entry.
  const after = track(waiters.wait('Product.v1', false, '7', '_', deadline));
  release([{ value: 'old', versions: VERSIONS }]);
  await jest.advanceTimersByTimeAsync(0);
  expect(before.outcome).toEqual({ kind: 'value', raw: 'old', versions: VERSIONS });
  expect(after.outcome).toBeUndefined();
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(calls).toHaveLength(2);
  release([{ value: 'new', versions: VERSIONS }]);
  await jest.advanceTimersByTimeAsync(0);
  expect(after.outcome).toEqual({ kind: 'value', raw: 'new', versions: VERSIONS });
});

it('polls each type on its own, telling the peek whether the type has a volatile part', async () => {
  const fake = fakePeek();
  const waiters = new LeaseWaiters(fake.peek, INTERVAL_MS);
  const deadline = Date.now() + 1000;
  void waiters.wait('Product.v1', true, '7', '_', deadline);
  void waiters.wait('OrderPage.v1', false, 'user-1', 'first=20', deadline);
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(fake.calls).toEqual(
    expect.arrayContaining([
      { typeKey: 'Product.v1', hasVolatilePart: true, entries: [{ keyId: '7', field: '_' }] },
      { typeKey: 'OrderPage.v1', hasVolatilePart: false, entries: [{ keyId: 'user-1', field: 'first=20' }] },
    ]),
  );
  expect(fake.calls).toHaveLength(2);
});

it('keeps entries with the same key id but different fields apart', async () => {
  const fake = fakePeek();
  const waiters = new LeaseWaiters(fake.peek, INTERVAL_MS);
  const deadline = Date.now() + 1000;
  const page1 = track(waiters.wait('OrderPage.v1', false, 'user-1', 'first=20', deadline));
  const page2 = track(waiters.wait('OrderPage.v1', false, 'user-1', 'first=20 after=5', deadline));
  fake.reply('user-1', 'first=20', { value: 'p1', versions: VERSIONS });
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(fake.calls[0]!.entries).toHaveLength(2);
  expect(page1.outcome).toEqual({ kind: 'value', raw: 'p1', versions: VERSIONS });
  expect(page2.outcome).toBeUndefined();
});

it('stops polling once nobody waits, and starts again for the next waiter', async () => {
  const fake = fakePeek();
  const waiters = new LeaseWaiters(fake.peek, INTERVAL_MS);
  fake.reply('3', '_', 1);
  void waiters.wait('Order.v1', false, '3', '_', Date.now() + 1000);
  await jest.advanceTimersByTimeAsync(INTERVAL_MS * 20);
  // The poll that answered, then one more that found nobody and stopped: no timer left behind.
  expect(fake.calls).toHaveLength(1);
  expect(jest.getTimerCount()).toBe(0);
  const again = track(waiters.wait('Order.v1', false, '3', '_', Date.now() + 1000));
  await jest.advanceTimersByTimeAsync(INTERVAL_MS);
  expect(fake.calls).toHaveLength(2);
  expect(again.outcome).toEqual({ kind: 'retry' });
});
