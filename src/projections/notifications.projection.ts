// Notifications: a row for the customer when their order is paid, shipped or cancelled. The row
// and the processed event id are written in one transaction (applyOnce), and event_id is unique
// as well, so a redelivered event adds nothing. A NotificationAdded event goes into the outbox in
// the same transaction.
import type { Db } from '../db/client';
import { notifications } from '../db/schema';
import type { EventHandler } from '../events/consumer';
import type { DomainEvent, EventDataByType, NotificationKind } from '../events/event-types';
import { appendEvent } from '../events/outbox';
import { applyOnce } from './processed-events';

export const NOTIFICATIONS_GROUP = 'notifications';

type OrderStatusEvent = DomainEvent<'OrderPaid' | 'OrderShipped' | 'OrderCancelled'>;

const NOTIFIED: Record<OrderStatusEvent['type'], { kind: NotificationKind; message: (orderId: number) => string }> = {
  OrderPaid: { kind: 'ORDER_PAID', message: (orderId) => `Your order #${orderId} is paid. We are preparing it.` },
  OrderShipped: { kind: 'ORDER_SHIPPED', message: (orderId) => `Your order #${orderId} has shipped.` },
  OrderCancelled: { kind: 'ORDER_CANCELLED', message: (orderId) => `Your order #${orderId} was cancelled.` },
};

const isNotified = (event: DomainEvent): event is OrderStatusEvent => Object.hasOwn(NOTIFIED, event.type);

export function createNotificationsHandler({ db }: { db: Db }): EventHandler {
  return async (event) => {
    // Other order events (OrderPlaced) notify nobody: nothing to apply, nothing to record.
    if (!isNotified(event)) return;
    const { orderId, userId } = event.data as EventDataByType['OrderPaid'];
    if (!Number.isSafeInteger(orderId) || !Number.isSafeInteger(userId)) {
      throw new Error(`${event.type} ${event.id} has no integer data.orderId and data.userId`);
    }
    const { kind, message } = NOTIFIED[event.type];
    // Dated when the change happened, not when a (possibly lagging) worker got to it.
    const occurredAt = new Date(event.occurredAt);
    const createdAt = Number.isNaN(occurredAt.getTime()) ? new Date() : occurredAt;
    await applyOnce(db, NOTIFICATIONS_GROUP, event.id, async (tx) => {
      const [inserted] = await tx
        .insert(notifications)
        .values({ userId, orderId, eventId: event.id, kind, message: message(orderId), createdAt })
        .onConflictDoNothing()
        .returning({ id: notifications.id });
      // Through the outbox like every other event, so notificationAdded subscribers get them in
      // stream order, resumable by cursor, and exactly when the row is committed.
      if (inserted) {
        await appendEvent(tx, {
          type: 'NotificationAdded',
          aggregate: { type: 'Notification', id: String(inserted.id) },
          data: { notificationId: inserted.id, userId, orderId, kind },
          invalidates: [],
        });
      }
    });
  };
}
