// How a whole response is stored in Redis: the header's length (8 digits), the header (what the
// response was computed from, cache/dependencies.ts), then the body as sent. The length comes
// first so readResponse-n.lua copies only the header into Lua to check it.

const HEADER_LENGTH_DIGITS = 8;

export function encodeStoredResponse(header: string, body: string): string {
  return `${String(Buffer.byteLength(header)).padStart(HEADER_LENGTH_DIGITS, '0')}${header}${body}`;
}

/** The header and body of a stored value (the body is a view of the same bytes); null if it is not one. */
export function decodeStoredResponse(stored: Buffer): { header: string; body: Buffer } | null {
  const headerLength = Number(stored.subarray(0, HEADER_LENGTH_DIGITS).toString());
  if (!Number.isInteger(headerLength) || HEADER_LENGTH_DIGITS + headerLength > stored.length) return null;
  return { header: stored.subarray(HEADER_LENGTH_DIGITS, HEADER_LENGTH_DIGITS + headerLength).toString(), body: stored.subarray(HEADER_LENGTH_DIGITS + headerLength) };
}
