// Order mutations: each runs in one transaction that locks the rows it changes, checks the status
// transition, and appends its event; stock never goes below zero whatever the concurrency (the
// decrement is conditional, and rows are locked in product id order so concurrent orders cannot deadlock).
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { rowFromJson } from '../../db/json-rows';
import { namedStatement, runNamed } from '../../db/named-statement';
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

/** What the one statement of a new order returns: its rows, or (order null) how far it got. */
interface TakenStock {
  order: OrderRow | null;
  itemRows: OrderItemRow[];
  /** The products whose stock was taken, as they are after it. */
  stockTaken: ProductRow[];
  totalCents: number;
}

/**
 * Takes the stock of every line and inserts the order and its items, in one statement (a
 * placeOrder is 4 statements with BEGIN, COMMIT and its outbox row, not 3 more per line), prepared
 * once per connection (db/named-statement.ts). The products are locked in id order first
 * (`locked`), so concurrent orders cannot deadlock; a line is taken only while its stock covers
 * it (checked again on the newest row after any wait), and the order is inserted only when every
 * line was taken and its total fits the column. Otherwise nothing is inserted and the caller
 * throws, which rolls the taken stock back.
 */
const placeOrderStatement = namedStatement(
  'place_order',
  `
    with lines as (
      select * from unnest(string_to_array($1, ',')::int[], string_to_array($2, ',')::int[]) as line(product_id, quantity)
    ), locked as materialized (
      select id from products where id in (select product_id from lines) order by id for update
    ), taken as (
      update products set stock = products.stock - lines.quantity, version = products.version + 1, updated_at = now()
      from lines
      where products.id = lines.product_id and products.id in (select id from locked) and products.stock >= lines.quantity
      returning products.*, lines.quantity as taken_quantity
    ), placed as (
      insert into orders (user_id, status, total_cents)
      select $3::int, 'PENDING', sum(taken.price_cents::bigint * taken.taken_quantity) from taken
      having count(*) = $4::int and sum(taken.price_cents::bigint * taken.taken_quantity) <= $5::bigint
      returning *
    ), placed_items as (
      insert into order_items (order_id, product_id, quantity, unit_price_cents)
      select placed.id, taken.id, taken.taken_quantity, taken.price_cents from placed, taken order by taken.id
      returning *
    )
    select
      (select to_jsonb(placed) from placed) as "order",
      (select coalesce(jsonb_agg(to_jsonb(placed_items) order by placed_items.product_id), '[]') from placed_items) as items,
      (select coalesce(jsonb_agg(to_jsonb(taken) - 'taken_quantity' order by taken.id), '[]') from taken) as products,
      (select coalesce(sum(taken.price_cents::bigint * taken.taken_quantity), 0) from taken)::float8 as total_cents`,
);

async function takeStockAndPlace(tx: Db, userId: number, lines: OrderLineInput[]): Promise<TakenStock> {
  // Lists as text: one parameter each, the same for node-postgres and PGlite.
  const productIds = lines.map((line) => line.productId).join(',');
  const quantities = lines.map((line) => line.quantity).join(',');
  const rows = await runNamed<{ order: Record<string, unknown> | null; items: Array<Record<string, unknown>>; products: Array<Record<string, unknown>>; total_cents: number }>(
    tx,
    placeOrderStatement,
    [productIds, quantities, userId, lines.length, MAX_TOTAL_CENTS],
  );
  const [row] = rows;
  return {
    order: row?.order ? rowFromJson(orders, row.order) : null,
    itemRows: (row?.items ?? []).map((item) => rowFromJson(orderItems, item)),
    stockTaken: (row?.products ?? []).map((product) => rowFromJson(products, product)),
    totalCents: Number(row?.total_cents ?? 0),
  };
}

/** The error for an order the statement did not place: the first line it could not take, or the total. */
async function whyNotPlaced(tx: Db, lines: OrderLineInput[], taken: TakenStock): Promise<Error> {
  const takenIds = new Set(taken.stockTaken.map((product) => product.id));
  const short = lines.find((line) => !takenIds.has(line.productId));
  if (!short) {
    // Checked before the INSERT: past the column the database would answer with an out-of-range
    // error that is the server's, not the client's.
    return badUserInput(`An order may total at most ${MAX_TOTAL_CENTS} cents; this one totals ${taken.totalCents}.`, { argumentName: 'items' });
  }
  const [existing] = await tx.select({ stock: products.stock }).from(products).where(eq(products.id, short.productId));
  if (!existing) return badUserInput(`Product ${short.productId} does not exist.`, { argumentName: 'items', productId: short.productId });
  return new AppError(ErrorCode.Conflict, `Only ${existing.stock} of product ${short.productId} in stock.`, {
    extensions: { productId: short.productId, available: existing.stock },
  });
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

        const taken = await takeStockAndPlace(tx, viewer.id, items);
        if (!taken.order) throw await whyNotPlaced(tx, items, taken);
        const { order, itemRows, stockTaken } = taken;
        const placed: OrderLine[] = itemRows.map(({ productId, quantity, unitPriceCents }) => ({ productId, quantity, unitPriceCents }));
        const outboxId = await emit({
          type: 'OrderPlaced',
          aggregate: { type: 'Order', id: String(order.id) },
          data: { orderId: order.id, userId: viewer.id, status: order.status, totalCents: order.totalCents, items: placed },
          // The new id may have been cached as absent, so it is invalidated like any change.
          invalidates: [...orderInvalidations(order, placed.map((line) => line.productId)), staleEntries(orderItemsCacheType, [order.id])],
        });
        if (idempotencyKey != null) {
          await tx
            .update(idempotencyKeys)
            .set({ response: { orderId: order.id, outboxId } })
            .where(and(eq(idempotencyKeys.userId, viewer.id), eq(idempotencyKeys.key, idempotencyKey)));
        }
        return { order, written: { items: itemRows, products: stockTaken } };
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
