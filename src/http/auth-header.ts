import type { SessionStore } from '../auth/session.store';
import type { Viewer } from '../auth/viewer';
import { AppError, ErrorCode, unauthenticated } from '../errors';

export interface Authentication {
  viewer: Viewer | null;
  sessionToken: string | null;
}

/** A request or websocket without an Authorization value. */
export const ANONYMOUS: Authentication = { viewer: null, sessionToken: null };

/**
 * Resolves an `Authorization` value (HTTP header, or websocket connectionParams.authorization).
 * No value is an anonymous request; a malformed, unknown or expired token is UNAUTHENTICATED (401),
 * never silently anonymous, so a client learns at once that it must log in again.
 */
export async function authenticate(sessions: SessionStore, authorization: unknown): Promise<Authentication> {
  if (authorization === undefined || authorization === null || authorization === '') return ANONYMOUS;
  const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>".', 401);
  const token = match[1]!;
  let session;
  try {
    session = await sessions.touch(token);
  } catch {
    throw new AppError(ErrorCode.ServiceUnavailable, 'Sessions cannot be checked right now; try again shortly.', {
      httpStatus: 503,
    });
  }
  if (!session) throw unauthenticated('The session token is invalid or has expired; log in again.', 401);
  return { viewer: { id: session.userId, role: session.role }, sessionToken: token };
}
