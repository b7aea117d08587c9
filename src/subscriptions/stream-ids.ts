// Redis stream ids ("<ms>-<seq>") are the cursors of subscriptions. They order events within one
// stream; both parts can exceed 2^53, so they are compared as bigints, never as floats or strings.

const STREAM_ID_PATTERN = /^(\d{1,20})-(\d{1,20})$/;
const MAX_PART = (1n << 64n) - 1n;

/** The id in canonical form ("0042-7" becomes "42-7"), or null when it is not a stream id. */
export function normalizeStreamId(value: string): string | null {
  const match = STREAM_ID_PATTERN.exec(value);
  if (!match) return null;
  const ms = BigInt(match[1]!);
  const seq = BigInt(match[2]!);
  return ms > MAX_PART || seq > MAX_PART ? null : `${ms}-${seq}`;
}

/** Negative when a is older than b, 0 when equal, positive when newer. Both must be stream ids. */
export function compareStreamIds(a: string, b: string): number {
  const dashA = a.indexOf('-');
  const dashB = b.indexOf('-');
  const msA = BigInt(a.slice(0, dashA));
  const msB = BigInt(b.slice(0, dashB));
  if (msA !== msB) return msA < msB ? -1 : 1;
  const seqA = BigInt(a.slice(dashA + 1));
  const seqB = BigInt(b.slice(dashB + 1));
  return seqA === seqB ? 0 : seqA < seqB ? -1 : 1;
}

/** The id before any real entry: "everything in the stream comes after this". */
export const STREAM_START = '0-0';
