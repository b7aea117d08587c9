import DataLoader from 'dataloader';
import { inArray } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { users, type UserRow } from '../../db/schema';
import { orderedByKeys } from '../common/batch';

export function createUserLoaders(db: Db) {
  return {
    userById: new DataLoader<number, UserRow | null>(async (ids) =>
      orderedByKeys(ids, await db.select().from(users).where(inArray(users.id, [...ids])), (row) => row.id),
    ),
  };
}

export type UserLoaders = ReturnType<typeof createUserLoaders>;
