// Sessions live in Redis: an opaque random token goes to the client, only its SHA-256 is stored,
// with a sliding TTL, and each user's token hashes are indexed so logoutAll can find them.
// Revocations are also published, so every replica closes the websockets they authenticated.
import { createHash, randomBytes } from 'node:crypto';
import { publishTo, type RedisClient } from '../redis/client';
import { LRUCache } from 'lru-cache';
import type { RedisKeys } from '../redis/keys';
import type { UserRole } from '../db/schema';
import { revocationMessage } from './session-revocations';

export interface Session {
  userId: number;
  role: UserRole;
  /** When the session was created, in ms since the epoch. */
  createdAtMs: number;
}

export interface SessionStoreOptions {
  redis: RedisClient;
  keys: RedisKeys;
  /** Sliding lifetime: every use extends the session to this. */
  ttlSeconds: number;
}

export interface SessionStore {
  create(userId: number, role: UserRole): Promise<{ token: string; expiresAt: Date }>;
  /** The session of a token, extending its lifetime; null when unknown or expired. */
  touch(token: string): Promise<Session | null>;
  /** Deletes one session; true when it existed. */
  revoke(token: string): Promise<boolean>;
  /** Deletes every session of a user; returns how many there were. */
  revokeAll(userId: number): Promise<number>;
}

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function parseSession(raw: string | null): Session | null {
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw) as Partial<Session>;
    if (typeof value.userId !== 'number' || (value.role !== 'ADMIN' && value.role !== 'CUSTOMER')) return null;
    return { userId: value.userId, role: value.role, createdAtMs: Number(value.createdAtMs) };
  } catch {
    return null;
  }
}

export function createSessionStore({ redis, keys, ttlSeconds }: SessionStoreOptions): SessionStore {
  // The index must live as long as its longest session, but extending it on every request would
  // double the Redis commands of every authenticated request: this process extends each user's
  // index at most once per tenth of the lifetime, by the lifetime plus that tenth, so it still
  // outlives every session touched in between (a longer TTL is harmless: stale members are
  // pruned on logoutAll).
  const throttleMs = ttlSeconds * 100;
  const indexTtlSeconds = Math.ceil(ttlSeconds * 1.1);
  const indexExtendedRecently = new LRUCache<number, true>({ max: 100_000, ttl: Math.max(1, throttleMs) });
  const extendIndex = (userId: number) => {
    if (indexExtendedRecently.has(userId)) return;
    indexExtendedRecently.set(userId, true);
    redis.expire(keys.userSessions(userId), indexTtlSeconds).catch(() => indexExtendedRecently.delete(userId));
  };
  return {
    async create(userId, role) {
      const token = randomBytes(32).toString('base64url');
      const tokenHash = hashToken(token);
      const session: Session = { userId, role, createdAtMs: Date.now() };
      // The index first, then the session: a live session is always in its user's index (what
      // logoutAll reads). Not one transaction: on a Redis Cluster the two keys are on different
      // slots. The index outlives each of its sessions; stale members are harmless, pruned on logoutAll.
      await redis.multi().sadd(keys.userSessions(userId), tokenHash).expire(keys.userSessions(userId), indexTtlSeconds).exec();
      await redis.set(keys.session(tokenHash), JSON.stringify(session), 'EX', ttlSeconds);
      return { token, expiresAt: new Date(Date.now() + ttlSeconds * 1000) };
    },

    async touch(token) {
      if (!TOKEN_PATTERN.test(token)) return null;
      const key = keys.session(hashToken(token));
      const session = parseSession(await redis.getex(key, 'EX', ttlSeconds));
      if (session) extendIndex(session.userId);
      return session;
    },

    async revoke(token) {
      if (!TOKEN_PATTERN.test(token)) return false;
      const tokenHash = hashToken(token);
      const session = parseSession(await redis.get(keys.session(tokenHash)));
      if (!session) return false;
      // The session goes first (no request is authenticated by it from then on), its index entry after.
      await redis.del(keys.session(tokenHash));
      await Promise.all([
        redis.srem(keys.userSessions(session.userId), tokenHash),
        // Every replica closes the websockets of this session (see session-revocations.ts).
        publishTo(redis, keys.sessionRevocationsChannel(), revocationMessage({ userId: session.userId, tokenHash })),
      ]);
      return true;
    },

    async revokeAll(userId) {
      const indexKey = keys.userSessions(userId);
      const tokenHashes = await redis.smembers(indexKey);
      // One DEL per session (each its own slot on a Redis Cluster), sent together.
      const deleted = await Promise.all(tokenHashes.map((tokenHash) => redis.del(keys.session(tokenHash))));
      if (tokenHashes.length > 0) await redis.srem(indexKey, ...tokenHashes);
      await publishTo(redis, keys.sessionRevocationsChannel(), revocationMessage({ userId }));
      return deleted.reduce((sum, count) => sum + count, 0);
    },
  };
}
