import { asc, eq, gt } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { users, type UserRow } from '../../db/schema';
import { getUnmatchableHash, verifyPassword } from '../../auth/password';
import type { LoginLimiter } from '../../auth/login-limiter';
import type { SessionStore } from '../../auth/session.store';
import { unauthenticated } from '../../errors';
import { toPage, type Page, type PageRequest } from '../common/pagination';

export interface UserServiceDeps {
  db: Db;
  sessions: SessionStore;
  loginLimiter: LoginLimiter;
}

export function createUserService({ db, sessions, loginLimiter }: UserServiceDeps) {
  return {
    async list(page: PageRequest): Promise<Page<UserRow>> {
      const rows = await db
        .select()
        .from(users)
        .where(page.afterId === null ? undefined : gt(users.id, page.afterId))
        .orderBy(asc(users.id))
        .limit(page.first + 1);
      return toPage(rows, page);
    },

    /** Checks the credentials and opens a session; the same error for an unknown email and a wrong password. */
    async login(email: string, password: string, clientAddress: string) {
      const normalizedEmail = email.trim().toLowerCase();
      await loginLimiter.assertAllowed(normalizedEmail, clientAddress);
      const [user] = await db.select().from(users).where(eq(users.email, normalizedEmail)).limit(1);
      // Verify against a dummy hash for unknown emails too, so timing does not tell which emails exist.
      const isValid = await verifyPassword(password, user?.passwordHash ?? (await getUnmatchableHash()));
      if (!user || !isValid) {
        await loginLimiter.recordFailure(normalizedEmail, clientAddress);
        throw unauthenticated('Invalid email or password.');
      }
      await loginLimiter.recordSuccess(normalizedEmail, clientAddress);
      const session = await sessions.create(user.id, user.role);
      return { ...session, user };
    },

    logout: (token: string) => sessions.revoke(token),
    logoutAll: (userId: number) => sessions.revokeAll(userId),
  };
}

export type UserService = ReturnType<typeof createUserService>;
