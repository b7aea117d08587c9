import { and, desc, eq, lt } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { orders, type OrderRow, type OrderStatus } from '../../db/schema';
import { isAdmin, type Viewer } from '../../auth/viewer';
import { toPage, type Page, type PageRequest } from '../common/pagination';

export function createOrderService({ db }: { db: Db }) {
  return {
    /** Newest first; a customer sees only their own orders, an admin sees all. */
    async list(viewer: Viewer, page: PageRequest, status?: OrderStatus | null): Promise<Page<OrderRow>> {
      const rows = await db
        .select()
        .from(orders)
        .where(
          and(
            isAdmin(viewer) ? undefined : eq(orders.userId, viewer.id),
            status ? eq(orders.status, status) : undefined,
            page.afterId === null ? undefined : lt(orders.id, page.afterId),
          ),
        )
        .orderBy(desc(orders.id))
        .limit(page.first + 1);
      return toPage(rows, page);
    },
  };
}

export type OrderService = ReturnType<typeof createOrderService>;
