// The viewer is who makes a request: taken from the session, carried in the GraphQL context.
import type { ResponseDependencies } from '../cache/dependencies';
import type { UserRole } from '../db/schema';
import type { RequestUsage } from '../observability/request-usage';

export interface Viewer {
  id: number;
  role: UserRole;
}

export const isAdmin = (viewer: Viewer | null): boolean => viewer?.role === 'ADMIN';

/** Admins see every user's data; customers only their own. */
export const canSee = (viewer: Viewer | null, ownerId: number): boolean =>
  viewer !== null && (viewer.role === 'ADMIN' || viewer.id === ownerId);

/** Whose budgets (query cost, replays) a request draws on: the viewer's when logged in, else the client address's. */
export function costSubject(viewer: Pick<Viewer, 'id'> | null | undefined, clientAddress: string): string {
  return viewer ? `user:${viewer.id}` : `address:${clientAddress}`;
}

/** What the transport (HTTP or websocket) knows of a request besides its session. */
export interface RequestInfo {
  requestId: string;
  /** The client's IP address as the socket reports it. */
  clientAddress: string;
  /** Set when the response may be cached: the loaders record the cache keys they read here. */
  dependencies?: ResponseDependencies;
  /** Where the request's loaders count their SQL statements and Redis round trips (HTTP requests). */
  usage?: RequestUsage;
}
