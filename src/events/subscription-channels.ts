// The pub/sub channels an event is published on, next to its stream entry: narrow, so a replica
// decodes only what its subscribers want (per order, per user, per product, per user's
// notifications, and an admin order firehose). Each message is {"cursor": <stream id>, "event": <envelope>}.
import type { DomainEvent } from './event-types';

export interface SubscriptionChannel {
  topic: 'order' | 'user-orders' | 'order-events' | 'product' | 'user' | 'user-notifications';
  id?: number;
}

export function subscriptionChannels(event: DomainEvent): SubscriptionChannel[] {
  const data = event.data as { orderId?: number; userId?: number; productId?: number };
  switch (event.aggregate.type) {
    case 'Order':
      return [{ topic: 'order', id: data.orderId }, { topic: 'user-orders', id: data.userId }, { topic: 'order-events' }];
    case 'Product':
      return [{ topic: 'product', id: data.productId }];
    case 'User':
      return [{ topic: 'user', id: data.userId }];
    case 'Notification':
      return [{ topic: 'user-notifications', id: data.userId }];
    default: {
      const unknown: never = event.aggregate.type;
      throw new Error(`no channels for aggregate ${String(unknown)}`);
    }
  }
}
