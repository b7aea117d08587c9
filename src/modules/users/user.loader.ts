import { asc, getTableColumns, gt } from 'drizzle-orm';
import type { CacheStore } from '../../cache/cache-store';
import { rowCacheType } from '../../cache/cache-type';
import type { Db } from '../../db/client';
import { rowsByIds } from '../../db/rows-by-ids';
import { users, type UserRow } from '../../db/schema';
import { createEntityLoader, idOrderedPageCacheType, pageKeyOf } from '../common/entity-loader';
import { createPageLoader } from '../common/page-loader';
import type { PageRequest } from '../common/pagination';

/** A user as the API reads it: never the password hash, which stays out of caches and loaders. */
export type UserRecord = Omit<UserRow, 'passwordHash'>;

const { passwordHash: _passwordHash, ...userColumns } = getTableColumns(users);

export const userCacheType = rowCacheType<UserRecord>(
  'User',
  1,
  ['id', 'email', 'name', 'role', 'version', 'createdAt', 'updatedAt'],
  ['createdAt', 'updatedAt'],
);

/** All users in id order: the list changes only when a user is created. */
export const userPageCacheType = idOrderedPageCacheType('UserPages');

export function createUserLoaders(db: Db, cache: CacheStore) {
  const userById = createEntityLoader(cache, userCacheType, rowsByIds(db, 'users_by_ids', (db, idIn) => db.select(userColumns).from(users).where(idIn(users.id))));
  const userPages = createPageLoader<PageRequest, UserRecord>({
    cache,
    cacheType: userPageCacheType,
    rowCacheType: userCacheType,
    rowById: userById,
    cacheKeyOf: pageKeyOf,
    loadFromDatabase: (pages) =>
      Promise.all(
        pages.map((page) =>
          db
            .select(userColumns)
            .from(users)
            .where(page.afterId === null ? undefined : gt(users.id, page.afterId))
            .orderBy(asc(users.id))
            .limit(page.first + 1),
        ),
      ),
  });
  return { userById, userPages };
}
