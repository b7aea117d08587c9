// Notifications: a row for the customer when their order is paid, shipped or cancelled. The rows
// and the processed event ids are written in one transaction (applyEachOnce), a whole batch of
// events at a time, and event_id is unique as well, so a redelivered event adds nothing. A
// NotificationAdded event per row goes into the outbox in the same transaction.
import type { Db } from '../db/client';
import { notifications } from '../db/schema';
import type { BatchEventHandler } from '../events/consumer';
import type { DomainEvent, EventDataByType, NotificationKind } from '../events/event-types';
import { appendEvent } from '../events/outbox';
import { applyEachOnce } from './processed-events';
import { asError } from '../errors';

export const NOTIFICATIONS_GROUP = 'notifications';

type OrderStatusEvent = DomainEvent<'OrderPaid' | 'OrderShipped' | 'OrderCancelled'>;

const NOTIFIED: Record<OrderStatusEvent['type'], { kind: NotificationKind; message: (orderId: number) => string }> = {
  OrderPaid: { kind: 'ORDER_PAID', message: (orderId) => `Your order #${orderId} is paid. We are preparing it.` },
  OrderShipped: { kind: 'ORDER_SHIPPED', message: (orderId) => `Your order #${orderId} has shipped.` },
  OrderCancelled: { kind: 'ORDER_CANCELLED', message: (orderId) => `Your order #${orderId} was cancelled.` },
};

const isNotified = (event: DomainEvent): event is OrderStatusEvent => Object.hasOwn(NOTIFIED, event.type);

interface NewNotification {
  userId: number;
  orderId: number;
  /** In lower case, as the database gives uuids back. */
  eventId: string;
  kind: NotificationKind;
  message: string;
  createdAt: Date;
}

/** The notification the event causes; null for events that notify nobody (OrderPlaced); throws for a bad event. */
function notificationOf(event: DomainEvent): NewNotification | null {
  if (!isNotified(event)) return null;
  const { orderId, userId } = event.data as EventDataByType['OrderPaid'];
  if (!Number.isSafeInteger(orderId) || !Number.isSafeInteger(userId)) {
    throw new Error(`${event.type} ${event.id} has no integer data.orderId and data.userId`);
  }
  const { kind, message } = NOTIFIED[event.type];
  // Dated when the change happened, not when a (possibly lagging) worker got to it.
  const occurredAt = new Date(event.occurredAt);
  const createdAt = Number.isNaN(occurredAt.getTime()) ? new Date() : occurredAt;
  return { userId, orderId, eventId: event.id.toLowerCase(), kind, message: message(orderId), createdAt };
}

/** Inserts the notifications of events not processed before, and their NotificationAdded events, in one transaction. */
async function applyNotifications(db: Db, batch: NewNotification[]): Promise<void> {
  if (batch.length === 0) return;
  await applyEachOnce(db, NOTIFICATIONS_GROUP, batch.map((row) => row.eventId), async (tx, freshIds) => {
    const fresh = [...new Map(batch.filter((row) => freshIds.has(row.eventId)).map((row) => [row.eventId, row])).values()];
    const inserted = await tx.insert(notifications).values(fresh).onConflictDoNothing().returning({ id: notifications.id, eventId: notifications.eventId });
    const idOf = new Map(inserted.map((row) => [row.eventId, row.id]));
    // Through the outbox like every other event, so notificationAdded subscribers get them in
    // stream order, resumable by cursor, and exactly when the row is committed. In the order of
    // the events, as the stream had them.
    for (const { eventId, userId, orderId, kind } of fresh) {
      const notificationId = idOf.get(eventId);
      if (notificationId === undefined) continue;
      await appendEvent(tx, {
        type: 'NotificationAdded',
        aggregate: { type: 'Notification', id: String(notificationId) },
        data: { notificationId, userId, orderId, kind },
        invalidates: [],
      });
    }
  });
}

/** The whole batch in one transaction; an event without valid data gets its Error and is left out. */
export function createNotificationsBatchHandler({ db }: { db: Db }): BatchEventHandler {
  return async (entries) => {
    const results: Array<Error | null> = [];
    const batch: NewNotification[] = [];
    for (const { event } of entries) {
      try {
        const notification = notificationOf(event);
        if (notification) batch.push(notification);
        results.push(null);
      } catch (error) {
        results.push(asError(error));
      }
    }
    await applyNotifications(db, batch);
    return results;
  };
}
