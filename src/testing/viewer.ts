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

/**
 * A demo account or a role runs with the id and role the seed gives it, read from no table: an
 * operation's SQL statements are its own (a test may count them). A user id reads the user's role
 * now, one statement before the operation.
 */
export async function authenticationAs(db: Db, as: As): Promise<Authentication> {
  if (as === null || as === undefined) return ANONYMOUS;
  if (typeof as !== 'number') return { viewer: demoAccountViewer(as), sessionToken: null };
  const [row] = await db.select({ id: users.id, role: users.role }).from(users).where(eq(users.id, as));
  if (!row) throw new Error(`as: ${as}: there is no user ${as} (create one with fixtures.user())`);
  return { viewer: { id: row.id, role: row.role }, sessionToken: null };
}

function demoAccountViewer(as: DemoAccountName | UserRole): { id: number; role: UserRole } {
  const index = demoAccounts.findIndex((account) => account.email.startsWith(`${as}@`) || account.role === as);
  if (index < 0) throw new Error(`as: ${JSON.stringify(as)} is neither a demo account (admin, alice, bob), a role (ADMIN, CUSTOMER) nor a user id`);
  // The seed gives the demo accounts the first ids, in this order.
  return { id: index + 1, role: demoAccounts[index]!.role };
}
