// The pub/sub channels an event goes out on decide who can hear it live: each subscriber listens
// on one narrow channel, so an event missing from a channel is an event that subscriber never gets.
import type { DomainEvent } from '../../src/events/event-types';
import { isKnownAggregate, registerAggregateChannels, subscriptionChannels } from '../../src/events/subscription-channels';

function eventOf(type: DomainEvent['type'], aggregateType: DomainEvent['aggregate']['type'], data: DomainEvent['data']): DomainEvent {
  return { id: '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b', type, version: 1, occurredAt: '2026-01-01T00:00:00.000Z', aggregate: { type: aggregateType, id: '1' }, data } as DomainEvent;
}

it("puts an order event on the order's channel, its customer's orders channel and the admin firehose", () => {
  const paid = eventOf('OrderPaid', 'Order', { orderId: 42, userId: 7, status: 'PAID' });
  expect(subscriptionChannels(paid)).toEqual([{ topic: 'order', id: 42 }, { topic: 'user-orders', id: 7 }, { topic: 'order-events' }]);
});

it('keys every order event type the same way (placed, shipped, cancelled)', () => {
  const lines = [{ productId: 3, quantity: 1, unitPriceCents: 500 }];
  const placed = eventOf('OrderPlaced', 'Order', { orderId: 5, userId: 9, status: 'PENDING', totalCents: 500, items: lines });
  const cancelled = eventOf('OrderCancelled', 'Order', { orderId: 5, userId: 9, status: 'CANCELLED', previousStatus: 'PAID', items: lines });
  const expected = [{ topic: 'order', id: 5 }, { topic: 'user-orders', id: 9 }, { topic: 'order-events' }];
  expect(subscriptionChannels(placed)).toEqual(expected);
  expect(subscriptionChannels(cancelled)).toEqual(expected);
  // Not on the channel of any product the order contains: product subscribers hear product events only.
  expect(subscriptionChannels(placed)).not.toContainEqual(expect.objectContaining({ topic: 'product' }));
});

it("puts a product event on that product's channel only", () => {
  const restocked = eventOf('ProductRestocked', 'Product', { productId: 3, added: 5, stock: 12, version: 2 });
  expect(subscriptionChannels(restocked)).toEqual([{ topic: 'product', id: 3 }]);
});

it("puts a user event on that user's channel", () => {
  const updated = eventOf('UserUpdated', 'User', { userId: 7, name: 'Alice', email: 'alice@example.com', role: 'CUSTOMER', version: 3 });
  expect(subscriptionChannels(updated)).toEqual([{ topic: 'user', id: 7 }]);
});

it("puts a notification on its recipient's notifications channel, not on the order's channels", () => {
  const added = eventOf('NotificationAdded', 'Notification', { notificationId: 11, userId: 7, orderId: 42, kind: 'ORDER_PAID' });
  expect(subscriptionChannels(added)).toEqual([{ topic: 'user-notifications', id: 7 }]);
});

it('refuses an aggregate it has no channels for, rather than publishing nowhere', () => {
  const unknown = eventOf('OrderPaid', 'Warehouse' as never, { orderId: 1, userId: 1, status: 'PAID' });
  expect(() => subscriptionChannels(unknown)).toThrow(/no channels for aggregate Warehouse/);
});

it("puts an added module's event on the channels of its aggregate, never on the gateway's own topics", () => {
  registerAggregateChannels('reviews', 'Review', (data) => [
    { topic: 'user-reviews', id: Number(data.userId) },
    { topic: 'product', id: Number(data.productId) },
  ]);
  const review = eventOf('ReviewAdded' as DomainEvent['type'], 'Review' as DomainEvent['aggregate']['type'], { userId: 7, productId: 3 } as never);
  expect(subscriptionChannels(review)).toEqual([{ topic: 'user-reviews', id: 7 }]);
  expect(isKnownAggregate('Review')).toBe(true);
  expect(isKnownAggregate('Widget')).toBe(false);
});
