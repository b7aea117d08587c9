// How much stream one websocket's resumes may replay. A resume with `after` far back reads up to
// SUBSCRIPTION_REPLAY_LIMIT entries, and a socket runs many subscriptions: without a budget one
// client spends seconds of the replica's CPU per socket. Beyond the budget a resume is
// RATE_LIMITED (not CURSOR_EXPIRED: its cursor is still good), so the client retries from it.
import { AppError, ErrorCode } from '../errors';

export interface ReplayBudgetOptions {
  /** Entries one owner (a websocket) may replay per window. @default 20000 */
  entriesPerWindow?: number;
  /** Length of the fixed window. @default 60000 */
  windowMs?: number;
  /** The clock. @default Date.now */
  now?: () => number;
}

interface Spending {
  windowStartMs: number;
  entries: number;
}

export class ReplayBudget {
  private readonly entriesPerWindow: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  // Keyed by the socket object: a closed socket's entry goes with it.
  private readonly spending = new WeakMap<object, Spending>();

  constructor(options: ReplayBudgetOptions = {}) {
    this.entriesPerWindow = options.entriesPerWindow ?? 20_000;
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Throws RATE_LIMITED when `owner` has nothing left to replay in this window. */
  assertAvailable(owner: object): void {
    if (this.spendingOf(owner).entries >= this.entriesPerWindow) throw this.rateLimited(owner);
  }

  /** Counts one replayed entry against `owner`; throws RATE_LIMITED (ending the replay) once over. */
  charge(owner: object): void {
    const spending = this.spendingOf(owner);
    spending.entries += 1;
    if (spending.entries > this.entriesPerWindow) throw this.rateLimited(owner);
  }

  private spendingOf(owner: object): Spending {
    const nowMs = this.now();
    let spending = this.spending.get(owner);
    if (!spending || nowMs - spending.windowStartMs >= this.windowMs) {
      spending = { windowStartMs: nowMs, entries: 0 };
      this.spending.set(owner, spending);
    }
    return spending;
  }

  private rateLimited(owner: object): AppError {
    const { windowStartMs } = this.spendingOf(owner);
    const retryAfterSeconds = Math.max(1, Math.ceil((windowStartMs + this.windowMs - this.now()) / 1000));
    return new AppError(
      ErrorCode.RateLimited,
      `This connection replayed more than ${this.entriesPerWindow} events recently; resume from the same cursor in ${retryAfterSeconds} s.`,
      { extensions: { retryAfterSeconds } },
    );
  }
}
