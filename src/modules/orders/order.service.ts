// Order mutations: each runs in one transaction that locks the rows it changes, checks the status
// transition, and appends its event; stock never goes below zero whatever the concurrency (the
// decrement is conditional, row by row, in product id order so concurrent orders cannot deadlock).
import { and, asc, eq, gte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { idempotencyKeys, orderItems, orders, products, type OrderItemRow, type OrderRow, type OrderStatus, type ProductRow } from '../../db/schema';
import { canSee, isAdmin, type Viewer } from '../../auth/viewer';
import { AppError, ErrorCode, badUserInput } from '../../errors';
import type { EventWriter } from '../../events/event-writer';
import type { OrderLine } from '../../events/event-types';
import { staleEntries } from '../../cache/invalidation';
import { productCacheType } from '../catalog/product.loader';
import { MAX_INTEGER_COLUMN } from '../common/ids';
import { requireRange } from '../common/input';
import { orderCacheType, orderItemsCacheType, orderPageCacheType, orderScopesOf } from './order.loader';

export const MAX_ORDER_LINES = 50;
export const MAX_LINE_QUANTITY = 1000;
/** orders.total_cents is an `integer` column. */
export const MAX_TOTAL_CENTS = MAX_INTEGER_COLUMN;
const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;

export interface OrderLineInput {
  productId: number;
  quantity: number;
}

/**
 * A placed order, with the rows its transaction wrote (absent for an idempotent replay): its items
 * and its products after the stock was taken, so the answer needs no second read of them.
 */
export interface PlacedOrder {
  order: OrderRow;
  written?: { items: OrderItemRow[]; products: ProductRow[] };
}

/** Allowed transitions: from → to. */
const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING: ['PAID', 'CANCELLED'],
  PAID: ['SHIPPED', 'CANCELLED'],
  SHIPPED: [],
  CANCELLED: [],
};

const orderNotFound = (orderId: number) => new AppError(ErrorCode.NotFound, `Order ${orderId} was not found.`);

/** The cache entries an order change makes stale (of its products, only the stock changed). */
function orderInvalidations(order: Pick<OrderRow, 'id' | 'userId'>, productIds: number[] = []) {
  return [
    staleEntries(orderCacheType, [order.id]),
    staleEntries(orderPageCacheType, orderScopesOf(order.userId)),
    ...(productIds.length ? [staleEntries(productCacheType, productIds, 'volatile')] : []),
  ];
}

/** Validates and merges order lines (the same product twice becomes one line). */
function normaliseLines(lines: OrderLineInput[]): OrderLineInput[] {
  if (lines.length === 0) throw badUserInput('An order needs at least one item.', { argumentName: 'items' });
  if (lines.length > MAX_ORDER_LINES) throw badUserInput(`An order takes at most ${MAX_ORDER_LINES} items.`, { argumentName: 'items' });
  const quantities = new Map<number, number>();
  for (const line of lines) {
    requireRange('quantity', line.quantity, 1, MAX_LINE_QUANTITY);
    quantities.set(line.productId, (quantities.get(line.productId) ?? 0) + line.quantity);
  }
  return [...quantities]
    .map(([productId, quantity]) => ({ productId, quantity: requireRange('quantity', quantity, 1, MAX_LINE_QUANTITY) }))
    .sort((a, b) => a.productId - b.productId);
}

export function createOrderService({ events }: { events: EventWriter }) {
  /** Locks the order, checks who may change it and that `to` is a legal next status. */
  async function lockForTransition(tx: Db, viewer: Viewer, orderId: number, to: OrderStatus): Promise<OrderRow> {
    const [order] = await tx.select().from(orders).where(eq(orders.id, orderId)).for('update');
    if (!order || !canSee(viewer, order.userId)) throw orderNotFound(orderId);
    if (!TRANSITIONS[order.status].includes(to)) {
      throw new AppError(ErrorCode.Conflict, `Order ${orderId} is ${order.status}; it cannot become ${to}.`, {
        extensions: { status: order.status },
      });
    }
    return order;
  }

  async function setStatus(tx: Db, order: OrderRow, status: OrderStatus): Promise<OrderRow> {
    const [updated] = await tx
      .update(orders)
      .set({ status, version: sql`${orders.version} + 1`, updatedAt: new Date() })
      .where(eq(orders.id, order.id))
      .returning();
    return updated!;
  }

  /** A status change with nothing else to it (pay, ship): lock, check, update, emit. */
  const moveTo = (viewer: Viewer, orderId: number, status: OrderStatus, type: 'OrderPaid' | 'OrderShipped') =>
    events.transaction(async (tx, emit) => {
      const order = await setStatus(tx, await lockForTransition(tx, viewer, orderId, status), status);
      await emit({
        type,
        aggregate: { type: 'Order', id: String(order.id) },
        data: { orderId: order.id, userId: order.userId, status: order.status },
        invalidates: orderInvalidations(order),
      });
      return order;
    });

  return {
    /**
     * Places an order for the viewer. With an idempotency key, a retry (even a concurrent one)
     * returns the first attempt's order instead of placing another.
     */
    async place(viewer: Viewer, lines: OrderLineInput[], idempotencyKey?: string | null): Promise<PlacedOrder> {
      const items = normaliseLines(lines);
      if (idempotencyKey != null && !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
        throw badUserInput('`idempotencyKey` must be 1-200 letters, digits or _.:-', { argumentName: 'idempotencyKey' });
      }
      return events.transaction(async (tx, emit, awaitPublished) => {
        if (idempotencyKey != null) {
          // A concurrent duplicate blocks here until the first commits, then finds its row.
          const claimed = await tx
            .insert(idempotencyKeys)
            .values({ userId: viewer.id, key: idempotencyKey, operation: 'placeOrder', response: {} })
            .onConflictDoNothing()
            .returning({ key: idempotencyKeys.key });
          if (claimed.length === 0) {
            const [first] = await tx
              .select()
              .from(idempotencyKeys)
              .where(and(eq(idempotencyKeys.userId, viewer.id), eq(idempotencyKeys.key, idempotencyKey)));
            const { orderId, outboxId } = (first?.response ?? {}) as { orderId?: number; outboxId?: number };
            const [order] = orderId && first?.operation === 'placeOrder' ? await tx.select().from(orders).where(eq(orders.id, orderId)) : [];
            if (!order) throw new AppError(ErrorCode.Conflict, 'This idempotency key was used for another request.');
            // Like the first attempt, a replay returns only once the order's event is out, so the
            // caller reads it on any replica.
            if (outboxId) awaitPublished(outboxId);
            return { order };
          }
        }

        const placed: OrderLine[] = [];
        const stockTaken: ProductRow[] = [];
        for (const item of items) {
          const [product] = await tx
            .update(products)
            .set({ stock: sql`${products.stock} - ${item.quantity}`, version: sql`${products.version} + 1`, updatedAt: new Date() })
            .where(and(eq(products.id, item.productId), gte(products.stock, item.quantity)))
            .returning();
          if (!product) {
            const [existing] = await tx.select({ stock: products.stock }).from(products).where(eq(products.id, item.productId));
            if (!existing) throw badUserInput(`Product ${item.productId} does not exist.`, { argumentName: 'items', productId: item.productId });
            throw new AppError(ErrorCode.Conflict, `Only ${existing.stock} of product ${item.productId} in stock.`, {
              extensions: { productId: item.productId, available: existing.stock },
            });
          }
          placed.push({ productId: item.productId, quantity: item.quantity, unitPriceCents: product.priceCents });
          stockTaken.push(product);
        }
        const totalCents = placed.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
        // Checked before the INSERT (the transaction rolls the stock back): past the column the
        // database would answer with an out-of-range error that is the server's, not the client's.
        if (totalCents > MAX_TOTAL_CENTS) {
          throw badUserInput(`An order may total at most ${MAX_TOTAL_CENTS} cents; this one totals ${totalCents}.`, { argumentName: 'items' });
        }
        const [order] = await tx.insert(orders).values({ userId: viewer.id, status: 'PENDING', totalCents }).returning();
        const itemRows = await tx
          .insert(orderItems)
          .values(placed.map((line) => ({ orderId: order!.id, ...line })))
          .returning();
        const outboxId = await emit({
          type: 'OrderPlaced',
          aggregate: { type: 'Order', id: String(order!.id) },
          data: { orderId: order!.id, userId: viewer.id, status: order!.status, totalCents, items: placed },
          // The new id may have been cached as absent, so it is invalidated like any change.
          invalidates: [...orderInvalidations(order!, placed.map((line) => line.productId)), staleEntries(orderItemsCacheType, [order!.id])],
        });
        if (idempotencyKey != null) {
          await tx
            .update(idempotencyKeys)
            .set({ response: { orderId: order!.id, outboxId } })
            .where(and(eq(idempotencyKeys.userId, viewer.id), eq(idempotencyKeys.key, idempotencyKey)));
        }
        return { order: order!, written: { items: itemRows, products: stockTaken } };
      });
    },

    pay: (viewer: Viewer, orderId: number) => moveTo(viewer, orderId, 'PAID', 'OrderPaid'),

    ship: (viewer: Viewer, orderId: number) => {
      if (!isAdmin(viewer)) throw new AppError(ErrorCode.Forbidden, 'Only admins ship orders.');
      return moveTo(viewer, orderId, 'SHIPPED', 'OrderShipped');
    },

    /** Cancels a PENDING or PAID order and puts its items back in stock. */
    cancel: (viewer: Viewer, orderId: number) =>
      events.transaction(async (tx, emit) => {
        const locked = await lockForTransition(tx, viewer, orderId, 'CANCELLED');
        const items = await tx.select().from(orderItems).where(eq(orderItems.orderId, orderId)).orderBy(asc(orderItems.productId));
        for (const item of items) {
          await tx
            .update(products)
            .set({ stock: sql`${products.stock} + ${item.quantity}`, version: sql`${products.version} + 1`, updatedAt: new Date() })
            .where(eq(products.id, item.productId));
        }
        const order = await setStatus(tx, locked, 'CANCELLED');
        const lines = items.map(({ productId, quantity, unitPriceCents }) => ({ productId, quantity, unitPriceCents }));
        await emit({
          type: 'OrderCancelled',
          aggregate: { type: 'Order', id: String(order.id) },
          data: { orderId: order.id, userId: order.userId, status: order.status, previousStatus: locked.status, items: lines },
          invalidates: orderInvalidations(order, lines.map((line) => line.productId)),
        });
        return order;
      }),
  };
}

export type OrderService = ReturnType<typeof createOrderService>;
