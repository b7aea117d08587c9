// Which websockets and SSE streams (sse-stream.ts) each session authenticated, so a revoked
// session's connections can be closed (4403; an SSE stream gets UNAUTHENTICATED, then its end) on
// every replica, and so sessions that expired while their sockets stayed open are noticed: every
// socket's session is re-checked now and then, and after revocation messages may have been missed.
// A check also slides the session's lifetime: an open socket is activity.
import { hashToken } from '../auth/session.store';
import type { SessionRevocation } from '../auth/session-revocations';
import { ErrorCode, isAppError } from '../errors';
import type { Authentication } from './auth-header';
import { CloseCode } from './close-codes';

/** A long-lived connection a session is checked for: a ws WebSocket, or an SseStream. */
export interface SessionConnection {
  close(code: number, reason: string): void;
  once(event: 'close', listener: () => void): unknown;
}

interface SocketSession {
  authentication: Authentication;
  userId: number;
  tokenHash: string;
  /** What the client sent, to check the session again the same way. */
  authorization: unknown;
}

export class SocketSessions {
  private readonly sessions = new Map<SessionConnection, SocketSession>();
  private readonly socketsByUser = new Map<number, Set<SessionConnection>>();

  constructor(private readonly authenticate: (authorization: unknown) => Promise<Authentication>) {}

  add(socket: SessionConnection, authentication: Authentication, authorization: unknown): void {
    if (!authentication.viewer || !authentication.sessionToken) return;
    const userId = authentication.viewer.id;
    this.sessions.set(socket, { authentication, userId, tokenHash: hashToken(authentication.sessionToken), authorization });
    let sockets = this.socketsByUser.get(userId);
    if (!sockets) this.socketsByUser.set(userId, (sockets = new Set()));
    sockets.add(socket);
    socket.once('close', () => this.remove(socket));
  }

  /** The session a socket authenticated with; undefined for an anonymous socket. */
  authenticationOf(socket: SessionConnection): Authentication | undefined {
    return this.sessions.get(socket)?.authentication;
  }

  closeRevoked({ userId, tokenHash }: SessionRevocation): void {
    for (const socket of this.socketsByUser.get(userId) ?? []) {
      if (tokenHash === undefined || this.sessions.get(socket)?.tokenHash === tokenHash) {
        socket.close(CloseCode.Forbidden, 'Session revoked; log in again');
      }
    }
  }

  /** Closes the sockets whose session is gone; a session that cannot be checked (Redis down) stays. */
  async recheckAll(): Promise<void> {
    await Promise.all(
      [...this.sessions].map(async ([socket, { authorization }]) => {
        try {
          await this.authenticate(authorization);
        } catch (error) {
          if (isAppError(error, ErrorCode.Unauthenticated)) socket.close(CloseCode.Forbidden, 'Session expired or revoked; log in again');
        }
      }),
    );
  }

  private remove(socket: SessionConnection): void {
    const session = this.sessions.get(socket);
    if (!session) return;
    this.sessions.delete(socket);
    const sockets = this.socketsByUser.get(session.userId);
    sockets?.delete(socket);
    if (sockets?.size === 0) this.socketsByUser.delete(session.userId);
  }
}
