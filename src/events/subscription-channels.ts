// The pub/sub channels an event is published on, next to its stream entry: narrow, so a replica
// decodes only what its subscribers want (per order, per user, per product, and an admin
// firehose). Each message is {"cursor": <stream id>, "event": <envelope>}.
import type { DomainEvent } from './event-types';

export interface SubscriptionChannel {
  topic: 'order' | 'user-orders' | 'order-events' | 'product' | 'user';
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
    default: {
      const unknown: never = event.aggregate.type;
      throw new Error(`no channels for aggregate ${String(unknown)}`);
    }
  }
}
