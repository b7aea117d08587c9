import type { AuthCheckerFn } from 'type-graphql';
import { forbidden, unauthenticated } from '../errors';
import type { Viewer } from './viewer';

/**
 * type-graphql `@Authorized(...roles)`: no viewer ⇒ UNAUTHENTICATED; a viewer without one of the
 * roles ⇒ FORBIDDEN. Thrown here so the codes are ours, not type-graphql's "UNAUTHORIZED".
 */
export const authChecker: AuthCheckerFn<{ viewer: Viewer | null }> = ({ context }, roles) => {
  if (!context.viewer) throw unauthenticated();
  if (roles.length > 0 && !roles.includes(context.viewer.role)) throw forbidden();
  return true;
};
