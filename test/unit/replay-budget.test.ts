// How much stream one websocket's resumes may replay per window, on an injected clock.
import { ErrorCode } from '../../src/errors';
import { ReplayBudget } from '../../src/subscriptions/replay-budget';

function budgetAt(startMs: number, entriesPerWindow = 3, windowMs = 60_000) {
  const clock = { nowMs: startMs };
  const budget = new ReplayBudget({ entriesPerWindow, windowMs, now: () => clock.nowMs });
  return { budget, clock };
}

const rateLimited = (retryAfterSeconds: number) =>
  expect.objectContaining({ extensions: expect.objectContaining({ code: ErrorCode.RateLimited, retryAfterSeconds }) });

const thrown = (action: () => void): unknown => {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
};

it('lets a socket replay its budget, ends the replay at the entry past it, and refuses its next resume', () => {
  const { budget } = budgetAt(0);
  const socket = {};
  budget.assertAvailable(socket);
  for (let i = 0; i < 3; i += 1) budget.charge(socket);
  expect(thrown(() => budget.charge(socket))).toEqual(rateLimited(60));
  expect(thrown(() => budget.assertAvailable(socket))).toEqual(rateLimited(60));
});

it('keeps each socket apart', () => {
  const { budget } = budgetAt(0);
  const spent = {};
  for (let i = 0; i < 3; i += 1) budget.charge(spent);
  expect(() => budget.assertAvailable({})).not.toThrow();
});

it('says how long until the window ends (rounded up, at least 1 s), and starts afresh after it', () => {
  const { budget, clock } = budgetAt(1_000);
  const socket = {};
  for (let i = 0; i < 3; i += 1) budget.charge(socket);
  clock.nowMs = 1_000 + 60_000 - 1_500;
  expect(thrown(() => budget.assertAvailable(socket))).toEqual(rateLimited(2));
  clock.nowMs = 1_000 + 60_000 - 10;
  expect(thrown(() => budget.assertAvailable(socket))).toEqual(rateLimited(1));
  clock.nowMs = 1_000 + 60_000;
  expect(() => budget.assertAvailable(socket)).not.toThrow();
  expect(() => budget.charge(socket)).not.toThrow();
});
