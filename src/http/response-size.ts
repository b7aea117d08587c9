// The response size limit: a GraphQL response whose serialized body is larger than the limit is
// replaced by a RESPONSE_TOO_LARGE error instead of being sent at any size. The cost limit keeps
// most such responses from being built at all; this bounds what the cost model underestimates
// (long strings, wide rows) on what leaves the process.
import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors';
import { errorResultType } from './media-type';

/** `sizeBytes`: the measured size, or null when it was only found to be over (the websocket's walk). */
export function responseTooLarge(sizeBytes: number | null, maxBytes: number): AppError {
  const size = sizeBytes === null ? '' : ` (${sizeBytes} bytes)`;
  return new AppError(ErrorCode.ResponseTooLarge, `The response${size} exceeds the limit of ${maxBytes} bytes; ask for fewer items or fields.`, {
    extensions: { ...(sizeBytes === null ? {} : { sizeBytes }), maxBytes },
  });
}

/**
 * Whether `value` serialized as JSON would be longer than `maxBytes`, found without serializing it:
 * a walk that adds up the lengths and stops as soon as they pass the limit, so it costs at most
 * about `maxBytes` of work and allocates nothing. Strings count their UTF-8 bytes.
 */
export function exceedsJsonBytes(value: unknown, maxBytes: number): boolean {
  let total = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') total += Buffer.byteLength(item) + 2;
    else if (item === null || typeof item !== 'object') total += String(item).length;
    else if (Array.isArray(item)) {
      // Brackets and commas first: a huge array is found over before any of it is pushed.
      total += 1 + item.length;
      if (total > maxBytes) return true;
      for (const element of item) pending.push(element);
    } else {
      total += 1;
      for (const [key, field] of Object.entries(item)) {
        total += Buffer.byteLength(key) + 4;
        pending.push(field);
      }
    }
    if (total > maxBytes) return true;
  }
  return false;
}

/** The body sent instead of an oversized one (the same shape as any error response). */
export function responseTooLargeBody(sizeBytes: number, maxBytes: number): string {
  const error = responseTooLarge(sizeBytes, maxBytes);
  return JSON.stringify({ errors: [{ message: error.message, extensions: error.extensions }] });
}

export interface ResponseSizeLimitOptions {
  /** Largest serialized response body, in bytes. */
  maxBytes: number;
  /** Only responses of this route are limited (/metrics may be large). */
  path: string;
  /** Hears each response that was replaced. @default none */
  onTooLarge?: (sizeBytes: number) => void;
}

/**
 * Registered before any other onSend hook, so nothing downstream (the response cache) sees the
 * oversized body. Apollo hands Fastify the whole body as one string, so measuring it is cheap.
 */
export function registerResponseSizeLimit(fastify: FastifyInstance, { maxBytes, path, onTooLarge = () => undefined }: ResponseSizeLimitOptions): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (request.routeOptions.url !== path || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return done(null, payload);
    const sizeBytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (sizeBytes <= maxBytes) return done(null, payload);
    onTooLarge(sizeBytes);
    void reply.code(400).header('content-type', errorResultType(request.headers.accept));
    done(null, responseTooLargeBody(sizeBytes, maxBytes));
  });
}
