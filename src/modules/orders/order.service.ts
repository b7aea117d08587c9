// Order mutations: each runs in one transaction that locks the rows it changes, checks the status
// transition, and appends its event; stock never goes below zero whatever the concurrency (the
// decrement is conditional, and rows are locked in product id order so concurrent orders cannot deadlock).
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { rowFromJson } from '../../db/json-rows';
import { namedStatement, runNamed, sqlText } from '../../db/named-statement';
import { idempotencyKeys, orderItems, orders, products, type OrderItemRow, type OrderRow, type OrderStatus, type ProductRow } from '../../db/schema';
import { canSee, isAdmin, type Viewer } from '../../auth/viewer';
import { AppError, ErrorCode, badUserInput } from '../../errors';
import type { AwaitAppended, EventWriter } from '../../events/event-writer';
import { appendEventWith, type AppendedEvent, type NewEvent } from '../../events/outbox';
import { currentDatabaseIdentity } from '../../db/identity';
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
function orderInvalidations(orderId: number | string, userId: number, productIds: number[] = []) {
  return [
    staleEntries(orderCacheType, [orderId]),
    staleEntries(orderPageCacheType, orderScopesOf(userId)),
    ...(productIds.length ? [staleEntries(productCacheType, productIds, 'volatile')] : []),
  ];
}

/** The cache entries a new order makes stale: its id may have been cached as absent, so it is invalidated like any change. */
function placedInvalidations(orderId: number | string, userId: number, productIds: number[]) {
  return [...orderInvalidations(orderId, userId, productIds), staleEntries(orderItemsCacheType, [orderId])];
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

/** Stands for the new order's id in its event's envelope and invalidations until the statement knows it. */
const NEW_ORDER_ID = '$new_order_id$';

/** What the one statement of a new order returns: its rows and event, or (order null) why it placed nothing. */
interface PlaceOutcome {
  order: OrderRow | null;
  itemRows: OrderItemRow[];
  /** The products whose stock was taken, as they are after it. */
  stockTaken: ProductRow[];
  /** Every line's product that exists, with its stock before the order (locked, so current). */
  stockBefore: Array<{ id: number; stock: number }>;
  totalCents: number;
  event: AppendedEvent | null;
}

/**
 * Places an order in ONE statement, its own transaction: it locks the lines' products in id order
 * (`locked`, so concurrent orders cannot deadlock; FOR UPDATE reads the newest rows), decides on
 * those rows whether every line is in stock and the total fits the column (`verdict`), and only
 * then takes the stock, inserts the order, its items and its event's outbox row. Otherwise it
 * writes nothing and returns the stock it found, for the error. One round trip where a transaction
 * took four (BEGIN, the order, the outbox row, COMMIT); prepared once per connection
 * (db/named-statement.ts). Inside a transaction (an idempotency key) it is one statement of it.
 *
 * The event's envelope and invalidations come from appendEventWith with NEW_ORDER_ID as the
 * aggregate's id ($10) and wherever else the order's id goes: the statement replaces that JSON
 * string with the id's, and writes `data` from the rows it inserted, so the event says exactly what
 * was written ($6-$12 are appendEventWith's values).
 */
const placeOrderStatement = namedStatement(
  'place_order_with_event',
  `
    with lines as (
      select * from unnest(string_to_array($1, ',')::int[], string_to_array($2, ',')::int[]) as line(product_id, quantity)
    ), locked as materialized (
      select id, stock, price_cents from products where id in (select product_id from lines) order by id for update
    ), verdict as materialized (
      select count(locked.id) = $4::int and coalesce(bool_and(locked.stock >= lines.quantity), false)
               and coalesce(sum(locked.price_cents::bigint * lines.quantity), 0) <= $5::bigint as placeable,
             coalesce(sum(locked.price_cents::bigint * lines.quantity), 0) as total_cents
      from lines left join locked on locked.id = lines.product_id
    ), taken as (
      update products set stock = products.stock - lines.quantity, version = products.version + 1, updated_at = now()
      from lines
      where products.id = lines.product_id and (select placeable from verdict)
      returning products.*
    ), placed as (
      insert into orders (user_id, status, total_cents)
      select $3::int, 'PENDING', total_cents from verdict where placeable
      returning *
    ), placed_items as (
      insert into order_items (order_id, product_id, quantity, unit_price_cents)
      select placed.id, locked.id, lines.quantity, locked.price_cents from placed, lines join locked on locked.id = lines.product_id
      returning *
    ), appended as (
      insert into outbox (event_id, stream, type, aggregate_type, aggregate_id, payload, invalidations)
      select $6::uuid, $7::text, $8::text, $9::text, placed.id::text,
        replace($11::text, to_jsonb($10::text)::text, to_jsonb(placed.id::text)::text)::jsonb || jsonb_build_object('data', jsonb_build_object(
          'orderId', placed.id, 'userId', placed.user_id, 'status', placed.status, 'totalCents', placed.total_cents,
          'items', (select jsonb_agg(jsonb_build_object('productId', product_id, 'quantity', quantity, 'unitPriceCents', unit_price_cents) order by product_id) from placed_items))),
        replace($12::text, to_jsonb($10::text)::text, to_jsonb(placed.id::text)::text)::jsonb
      from placed
      returning id::text as outbox_id
    )
    select
      (select to_jsonb(placed) from placed) as "order",
      (select coalesce(jsonb_agg(to_jsonb(placed_items) order by placed_items.product_id), '[]') from placed_items) as items,
      (select coalesce(jsonb_agg(to_jsonb(taken) order by taken.id), '[]') from taken) as products,
      (select coalesce(jsonb_agg(jsonb_build_object('id', id, 'stock', stock)), '[]') from locked) as stock_before,
      (select total_cents from verdict)::float8 as total_cents,
      (select outbox_id from appended) as outbox_id,
      ${sqlText(currentDatabaseIdentity)} as database`,
);

type PlaceRow = {
  order: Record<string, unknown> | null;
  items: Array<Record<string, unknown>>;
  products: Array<Record<string, unknown>>;
  stock_before: Array<{ id: number; stock: number }>;
  total_cents: number;
  outbox_id: string | null;
  database: string;
};

async function placeWithEvent(db: Db, userId: number, lines: OrderLineInput[]): Promise<PlaceOutcome> {
  const productIds = lines.map((line) => line.productId);
  const event: NewEvent<'OrderPlaced'> = {
    type: 'OrderPlaced',
    aggregate: { type: 'Order', id: NEW_ORDER_ID },
    // Written by the statement from the rows it inserts.
    data: { orderId: 0, userId, status: 'PENDING', totalCents: 0, items: [] },
    invalidates: placedInvalidations(NEW_ORDER_ID, userId, productIds),
  };
  const row = await appendEventWith(event, async (values) => {
    // Lists as text: one parameter each, the same for node-postgres and PGlite.
    const [only] = await runNamed<PlaceRow>(db, placeOrderStatement, [productIds.join(','), lines.map((line) => line.quantity).join(','), userId, lines.length, MAX_TOTAL_CENTS, ...values]);
    return only!;
  });
  const order = row.order ? rowFromJson(orders, row.order) : null;
  return {
    order,
    itemRows: row.items.map((item) => rowFromJson(orderItems, item)),
    stockTaken: row.products.map((product) => rowFromJson(products, product)),
    stockBefore: row.stock_before,
    totalCents: Number(row.total_cents),
    event: order && row.outbox_id ? { outboxId: Number(row.outbox_id), database: row.database } : null,
  };
}


/** The error for an order the statement did not place: the first line not in stock, or the total. */
function whyNotPlaced(lines: OrderLineInput[], outcome: PlaceOutcome): Error {
  const stock = new Map(outcome.stockBefore.map((product) => [product.id, product.stock]));
  const short = lines.find((line) => (stock.get(line.productId) ?? -1) < line.quantity);
  if (!short) {
    // Checked before the INSERT: past the column the database would answer with an out-of-range
    // error that is the server's, not the client's.
    return badUserInput(`An order may total at most ${MAX_TOTAL_CENTS} cents; this one totals ${outcome.totalCents}.`, { argumentName: 'items' });
  }
  const available = stock.get(short.productId);
  if (available === undefined) return badUserInput(`Product ${short.productId} does not exist.`, { argumentName: 'items', productId: short.productId });
  return new AppError(ErrorCode.Conflict, `Only ${available} of product ${short.productId} in stock.`, {
    extensions: { productId: short.productId, available },
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
        invalidates: orderInvalidations(order.id, order.userId),
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
      /** The order and its event in one statement, in `db`: a transaction's, or the pool's (autocommit). */
      const placeIn = async (db: Db, awaitPublished: AwaitAppended) => {
        const outcome = await placeWithEvent(db, viewer.id, items);
        if (!outcome.order || !outcome.event) throw whyNotPlaced(items, outcome);
        const { order, event } = outcome;
        awaitPublished(event.outboxId, { database: event.database, invalidates: placedInvalidations(order.id, order.userId, items.map((line) => line.productId)) });
        return { order, outboxId: event.outboxId, written: { items: outcome.itemRows, products: outcome.stockTaken } };
      };
      if (idempotencyKey == null) {
        const { order, written } = await events.autocommit(placeIn);
        return { order, written };
      }
      return events.transaction(async (tx, _emit, awaitPublished) => {
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
        const { order, outboxId, written } = await placeIn(tx, awaitPublished);
        await tx
          .update(idempotencyKeys)
          .set({ response: { orderId: order.id, outboxId } })
          .where(and(eq(idempotencyKeys.userId, viewer.id), eq(idempotencyKeys.key, idempotencyKey)));
        return { order, written };
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
          invalidates: orderInvalidations(order.id, order.userId, lines.map((line) => line.productId)),
        });
        return order;
      }),
  };
}

export type OrderService = ReturnType<typeof createOrderService>;
