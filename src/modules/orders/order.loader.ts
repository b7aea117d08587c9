import DataLoader from 'dataloader';
import { and, asc, desc, eq, getTableColumns, inArray, lt, lte, sql } from 'drizzle-orm';
import type { CacheStore } from '../../cache/cache-store';
import { cacheTypeKey, ENTITY_FIELD, idPageCacheType, rowCacheType, rowCodec, type CacheType } from '../../cache/cache-type';
import type { Db } from '../../db/client';
import { rowsByIds } from '../../db/rows-by-ids';
import { orderItems, orders, type OrderItemRow, type OrderRow, type OrderStatus } from '../../db/schema';
import { groupedByKeys } from '../common/batch';
import { createEntityLoader } from '../common/entity-loader';
import { createPageLoader, loadGrouped } from '../common/page-loader';
import type { PageRequest } from '../common/pagination';

/** A page of orders, newest first: of one user, or of everyone ("all", for admins). */
export interface OrderPageKey extends PageRequest {
  scope: number | 'all';
  status: OrderStatus | null;
}

/** Scope keys: a change to an order of user U invalidates `orderScopesOf(U)`. */
export const orderScopeKey = (scope: number | 'all') => (scope === 'all' ? 'all' : `user-${scope}`);
export const orderScopesOf = (userId: number) => [orderScopeKey(userId), orderScopeKey('all')];

export const orderCacheType: CacheType<number, OrderRow> = {
  ...rowCacheType<OrderRow>('Order', 1, ['id', 'userId', 'status', 'totalCents', 'version', 'createdAt', 'updatedAt'], ['createdAt', 'updatedAt']),
  // Every change to an order invalidates its user's scopes too (order.service.ts, orderInvalidations).
  coveredBy: (order) => orderScopesOf(order.userId).map((scope) => [cacheTypeKey(orderPageCacheType), scope] as const),
};

const itemCodec = rowCodec<OrderItemRow>(['id', 'orderId', 'productId', 'quantity', 'unitPriceCents']);

/** The items of an order, by order id (fixed once the order is placed). */
export const orderItemsCacheType: CacheType<number, OrderItemRow[]> = {
  name: 'OrderItems',
  version: 1,
  locate: (orderId) => ({ keyId: String(orderId), field: ENTITY_FIELD }),
  encode: (items) => JSON.stringify(items.map(itemCodec.toValues)),
  decode: (raw) => (JSON.parse(raw) as unknown[][]).map(itemCodec.fromValues),
  // Invalidated only when the order is placed, together with the order itself.
  coveredBy: (_items, orderId) => [[cacheTypeKey(orderCacheType), orderId]],
};

export const orderPageCacheType = idPageCacheType<OrderPageKey>('OrderPages', 1, (key) => ({
  keyId: orderScopeKey(key.scope),
  field: `${key.status ?? '*'}:${key.first}:${key.afterId ?? ''}`,
}));

/**
 * Order pages for many scopes in one statement per group of equal page arguments: a window
 * function ranks each user's orders newest first and keeps `first + 1` of each.
 */
async function loadOrderPages(db: Db, keys: OrderPageKey[]): Promise<OrderRow[][]> {
  return loadGrouped(
    keys,
    (key) => `${key.scope === 'all'}:${key.status}:${key.first}:${key.afterId}`,
    async (group) => {
      const { status, first, afterId } = group[0]!;
      const filters = and(status ? eq(orders.status, status) : undefined, afterId === null ? undefined : lt(orders.id, afterId));
      if (group[0]!.scope === 'all') {
        const rows = await db.select().from(orders).where(filters).orderBy(desc(orders.id)).limit(first + 1);
        return group.map(() => rows);
      }
      const userIds = group.map((key) => key.scope as number);
      const ranked = db
        .select({
          ...getTableColumns(orders),
          rank: sql<number>`row_number() over (partition by ${orders.userId} order by ${orders.id} desc)`.as('rank'),
        })
        .from(orders)
        .where(and(inArray(orders.userId, userIds), filters))
        .as('ranked');
      const rows = await db.select().from(ranked).where(lte(ranked.rank, first + 1)).orderBy(desc(ranked.id));
      return groupedByKeys(userIds, rows, (row) => row.userId).map((userRows) => userRows.map(({ rank: _rank, ...order }) => order));
    },
  );
}

export function createOrderLoaders(db: Db, cache: CacheStore) {
  const orderById = createEntityLoader(cache, orderCacheType, rowsByIds(db, 'orders_by_ids', (db, idIn) => db.select().from(orders).where(idIn(orders.id))));
  const itemsByOrderId = new DataLoader<number, OrderItemRow[]>(async (orderIds) => {
    const items = await cache.load(orderItemsCacheType, orderIds, async (missing) =>
      groupedByKeys(
        missing,
        await db.select().from(orderItems).where(inArray(orderItems.orderId, missing)).orderBy(asc(orderItems.id)),
        (row) => row.orderId,
      ),
    );
    return items.map((list) => list ?? []);
  });
  const orderPages = createPageLoader<OrderPageKey, OrderRow>({
    cache,
    cacheType: orderPageCacheType,
    rowCacheType: orderCacheType,
    rowById: orderById,
    cacheKeyOf: (key) => `${key.scope}:${key.status}:${key.first}:${key.afterId}`,
    loadFromDatabase: (keys) => loadOrderPages(db, keys),
  });
  return { orderById, itemsByOrderId, orderPages };
}
