import DataLoader from 'dataloader';
import { and, asc, desc, getTableColumns, inArray, lt, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { orderItems, orders, type OrderItemRow, type OrderRow } from '../../db/schema';
import { groupedByKeys, orderedByKeys } from '../common/batch';
import { toPage, type Page, type PageRequest } from '../common/pagination';

export interface UserOrdersKey extends PageRequest {
  userId: number;
}

/**
 * One page of orders for each of many users in ONE statement: a window function ranks each user's
 * orders newest first and keeps `first + 1` per user. Keys with different page arguments (rare in
 * one request) are grouped, one statement per distinct (first, after).
 */
async function loadUserOrderPages(db: Db, keys: readonly UserOrdersKey[]): Promise<Array<Page<OrderRow>>> {
  const groups = new Map<string, UserOrdersKey[]>();
  for (const key of keys) {
    const groupKey = `${key.first}:${key.afterId}`;
    groups.set(groupKey, [...(groups.get(groupKey) ?? []), key]);
  }
  const pages = new Map<UserOrdersKey, Page<OrderRow>>();
  for (const group of groups.values()) {
    const { first, afterId } = group[0]!;
    const userIds = [...new Set(group.map((key) => key.userId))];
    const ranked = db
      .select({
        ...getTableColumns(orders),
        rank: sql<number>`row_number() over (partition by ${orders.userId} order by ${orders.id} desc)`.as('rank'),
      })
      .from(orders)
      .where(and(inArray(orders.userId, userIds), afterId === null ? undefined : lt(orders.id, afterId)))
      .as('ranked');
    const rows = await db
      .select()
      .from(ranked)
      .where(lte(ranked.rank, first + 1))
      .orderBy(desc(ranked.id));
    const byUser = groupedByKeys(userIds, rows, (row) => row.userId);
    userIds.forEach((userId, index) => {
      const fetched = byUser[index]!.map(({ rank: _rank, ...order }) => order);
      for (const key of group.filter((candidate) => candidate.userId === userId)) {
        pages.set(key, toPage(fetched, key));
      }
    });
  }
  return keys.map((key) => pages.get(key)!);
}

export function createOrderLoaders(db: Db) {
  return {
    orderById: new DataLoader<number, OrderRow | null>(async (ids) =>
      orderedByKeys(ids, await db.select().from(orders).where(inArray(orders.id, [...ids])), (row) => row.id),
    ),
    itemsByOrderId: new DataLoader<number, OrderItemRow[]>(async (orderIds) =>
      groupedByKeys(
        orderIds,
        await db
          .select()
          .from(orderItems)
          .where(inArray(orderItems.orderId, [...orderIds]))
          .orderBy(asc(orderItems.id)),
        (row) => row.orderId,
      ),
    ),
    ordersPageByUser: new DataLoader<UserOrdersKey, Page<OrderRow>, string>((keys) => loadUserOrderPages(db, keys), {
      cacheKeyFn: (key) => `${key.userId}:${key.first}:${key.afterId}`,
    }),
  };
}

export type OrderLoaders = ReturnType<typeof createOrderLoaders>;
