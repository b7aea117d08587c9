import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { notifications, type NotificationRow } from '../../db/schema';
import { toPage, type Page, type PageRequest } from '../common/pagination';

/** Most ids one markNotificationsRead call takes. */
export const MAX_MARK_READ_IDS = 1000;

/**
 * A user's notifications. Not cached: they are per user, change with every order event, and a
 * page is one indexed range scan on (user_id, id).
 */
export function createNotificationService({ db }: { db: Db }) {
  return {
    async byId(id: number): Promise<NotificationRow | undefined> {
      const [row] = await db.select().from(notifications).where(eq(notifications.id, id));
      return row;
    },

    /** Newest first. */
    async list(userId: number, page: PageRequest, isUnreadOnly: boolean): Promise<Page<NotificationRow>> {
      const rows = await db
        .select()
        .from(notifications)
        .where(
          and(
            eq(notifications.userId, userId),
            isUnreadOnly ? eq(notifications.isRead, false) : undefined,
            page.afterId === null ? undefined : lt(notifications.id, page.afterId),
          ),
        )
        .orderBy(desc(notifications.id))
        .limit(page.first + 1);
      return toPage(rows, page);
    },

    /** Marks the user's own unread notifications among `ids` (all of them when null) read; returns how many changed. */
    async markRead(userId: number, ids: number[] | null): Promise<number> {
      if (ids?.length === 0) return 0;
      const changed = await db
        .update(notifications)
        .set({ isRead: true })
        .where(
          and(
            eq(notifications.userId, userId),
            eq(notifications.isRead, false),
            ids === null ? undefined : inArray(notifications.id, ids),
          ),
        )
        .returning({ id: notifications.id });
      return changed.length;
    },
  };
}

export type NotificationService = ReturnType<typeof createNotificationService>;
