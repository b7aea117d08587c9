import { eq, sql } from 'drizzle-orm';
import type { EventWriter } from '../../events/event-writer';
import { staleEntries } from '../../cache/invalidation';
import type { Db } from '../../db/client';
import { users, type UserRole } from '../../db/schema';
import { getUnmatchableHash, verifyPassword } from '../../auth/password';
import type { LoginLimiter } from '../../auth/login-limiter';
import type { SessionStore } from '../../auth/session.store';
import { AppError, ErrorCode, unauthenticated } from '../../errors';
import { requireChanges, requireLength, requireText } from '../common/input';
import { userCacheType, type UserRecord } from './user.loader';

export interface UserServiceDeps {
  db: Db;
  events: EventWriter;
  sessions: SessionStore;
  loginLimiter: LoginLimiter;
}

export interface UserChanges {
  name?: string | null;
  email?: string | null;
  role?: UserRole | null;
}

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** RFC 5321's limit on a whole address. */
const EMAIL_MAX_LENGTH = 320;

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string; cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
  return code === '23505';
}

export function createUserService({ db, events, sessions, loginLimiter }: UserServiceDeps) {
  /**
   * Sessions carry the role. A role change commits, then ends the user's sessions; a login that
   * read the old role just before could create its session after that. So the role is read again
   * once the session exists: unchanged, any later change will end this session too; changed, the
   * session is replaced by one with the new role.
   */
  async function createSessionWithCurrentRole(userId: number, role: UserRole): Promise<{ token: string; expiresAt: Date }> {
    const session = await sessions.create(userId, role);
    const [current] = await db.select({ role: users.role }).from(users).where(eq(users.id, userId));
    if (!current || current.role === role) return session;
    await sessions.revoke(session.token);
    return createSessionWithCurrentRole(userId, current.role);
  }

  return {
    /** Checks the credentials and opens a session; the same error for an unknown email and a wrong password. */
    async login(email: string, password: string, clientAddress: string) {
      // Capped before anything else: the email becomes part of Redis keys.
      const normalizedEmail = requireLength('email', email.trim().toLowerCase(), 1, EMAIL_MAX_LENGTH);
      const attempt = await loginLimiter.startAttempt(normalizedEmail, clientAddress);
      const [user] = await db.select().from(users).where(eq(users.email, normalizedEmail)).limit(1);
      // Verify against a dummy hash for unknown emails too, so timing does not tell which emails exist.
      const isValid = await verifyPassword(password, user?.passwordHash ?? (await getUnmatchableHash()));
      if (!user || !isValid) throw unauthenticated('Invalid email or password.');
      await attempt.succeeded();
      return { ...(await createSessionWithCurrentRole(user.id, user.role)), user };
    },

    logout: (token: string) => sessions.revoke(token),
    logoutAll: (userId: number) => sessions.revokeAll(userId),

    /**
     * Edits a user (admins: any user and field; `updateProfile`: oneself, name and email). A role
     * change ends the user's sessions (they carry the role), so it applies from their next login.
     */
    async update(userId: number, changes: UserChanges): Promise<UserRecord> {
      const values: Partial<typeof users.$inferInsert> = {};
      if (changes.name != null) values.name = requireLength('name', changes.name.trim(), 1, 200);
      if (changes.email != null) {
        const email = requireText('email', changes.email.trim().toLowerCase());
        if (!EMAIL_PATTERN.test(email) || email.length > EMAIL_MAX_LENGTH) {
          throw new AppError(ErrorCode.BadUserInput, '`email` is not a valid email address.', { extensions: { argumentName: 'email' } });
        }
        values.email = email;
      }
      if (changes.role != null) values.role = changes.role;
      requireChanges(values);

      let updated;
      try {
        updated = await events.transaction(async (tx, emit) => {
          const [row] = await tx
            .update(users)
            .set({ ...values, version: sql`${users.version} + 1`, updatedAt: new Date() })
            .where(eq(users.id, userId))
            .returning();
          if (!row) throw new AppError(ErrorCode.NotFound, `User ${userId} does not exist.`);
          await emit({
            type: 'UserUpdated',
            aggregate: { type: 'User', id: String(row.id) },
            data: { userId: row.id, name: row.name, email: row.email, role: row.role, version: row.version },
            invalidates: [staleEntries(userCacheType, [row.id])],
          });
          return row;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError(ErrorCode.Conflict, 'Another user already has this email.');
        throw error;
      }
      if (values.role) await sessions.revokeAll(userId);
      const { passwordHash: _passwordHash, ...record } = updated;
      return record;
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
