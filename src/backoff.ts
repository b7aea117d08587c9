// The one retry schedule of the background loops (relay, consumers, subscription catch-ups):
// exponential, so an outage is not hammered, and capped, so recovery is noticed soon.

export interface BackoffOptions {
  /** The wait before the first retry; each later one doubles it. */
  firstMs: number;
  /** The longest wait. */
  maxMs: number;
}

/** The wait before retry number `retry` (1 for the first): firstMs, 2 × firstMs, 4 × firstMs, … up to maxMs. */
export function backoffMs(retry: number, { firstMs, maxMs }: BackoffOptions): number {
  // 2 ** a large exponent is Infinity, which Math.min turns into maxMs.
  return Math.min(maxMs, firstMs * 2 ** (Math.max(retry, 1) - 1));
}
