// Who an operation runs as (`as`): a demo account by name ('admin', 'alice', 'bob'), a user id, or
// a role ('ADMIN', 'CUSTOMER': the first demo account that has it). Resolved to the viewer a
// session would give, without logging in: a resolver test is not a test of login, and scrypt
// would cost it ~50 ms per user. (A test of login and sessions runs the `login` mutation itself.)
import { eq } from 'drizzle-orm';
import type { Authentication } from '../http/auth-header';
import { ANONYMOUS } from '../http/auth-header';
import type { Db } from '../db/client';
import { demoAccounts } from '../db/seed';
import { users, type UserRole } from '../db/schema';

export type DemoAccountName = 'admin' | 'alice' | 'bob';
/** A demo account's name, a user id, a role, or null/undefined for an anonymous client. */
export type As = DemoAccountName | number | UserRole | null | undefined;

export async function authenticationAs(db: Db, as: As): Promise<Authentication> {
  if (as === null || as === undefined) return ANONYMOUS;
  const userId = typeof as === 'number' ? as : demoAccountId(as);
  const [row] = await db.select({ id: users.id, role: users.role }).from(users).where(eq(users.id, userId));
  if (!row) throw new Error(`as: ${JSON.stringify(as)}: there is no user ${userId} (create one with fixtures.user())`);
  return { viewer: { id: row.id, role: row.role }, sessionToken: null };
}

function demoAccountId(as: DemoAccountName | UserRole): number {
  const index = demoAccounts.findIndex((account) => account.email.startsWith(`${as}@`) || account.role === as);
  if (index < 0) throw new Error(`as: ${JSON.stringify(as)} is neither a demo account (admin, alice, bob), a role (ADMIN, CUSTOMER) nor a user id`);
  // The seed gives the demo accounts the first ids, in this order.
  return index + 1;
}
