// The response size limit: a GraphQL response whose serialized body is larger than the limit is
// replaced by a RESPONSE_TOO_LARGE error instead of being sent at any size. The cost limit keeps
// most such responses from being built at all; this bounds what the cost model underestimates
// (long strings, wide rows) on what leaves the process.
import type { FastifyInstance } from 'fastify';
import { AppError, ErrorCode } from '../errors';

export function responseTooLarge(sizeBytes: number, maxBytes: number): AppError {
  return new AppError(ErrorCode.ResponseTooLarge, `The response (${sizeBytes} bytes) exceeds the limit of ${maxBytes} bytes; ask for fewer items or fields.`, {
    extensions: { sizeBytes, maxBytes },
  });
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
  fastify.addHook('onSend', async (request, reply, payload) => {
    if (request.routeOptions.url !== path || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return payload;
    const sizeBytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (sizeBytes <= maxBytes) return payload;
    onTooLarge(sizeBytes);
    void reply.code(400).header('content-type', 'application/json; charset=utf-8');
    return responseTooLargeBody(sizeBytes, maxBytes);
  });
}
