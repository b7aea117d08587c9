// Domain events: what other services read from the Redis streams. Every event is an envelope
// { id, type, version, occurredAt, aggregate, data, trace? }; `version` changes only when `data`
// changes incompatibly. docs/events.md documents each type for consumers.
import type { OrderStatus, UserRole } from '../db/schema';

/** The domain streams (Redis keys `<prefix>:stream:<name>`). */
export const STREAMS = ['orders', 'catalog', 'users', 'notifications'] as const;
export type StreamName = (typeof STREAMS)[number];

export interface OrderLine {
  productId: number;
  quantity: number;
  unitPriceCents: number;
}

/** What a notification is about; the GraphQL enum NotificationKind has the same values. */
export type NotificationKind = 'ORDER_PAID' | 'ORDER_SHIPPED' | 'ORDER_CANCELLED';

export interface EventDataByType {
  OrderPlaced: { orderId: number; userId: number; status: OrderStatus; totalCents: number; items: OrderLine[] };
  OrderPaid: { orderId: number; userId: number; status: OrderStatus };
  OrderShipped: { orderId: number; userId: number; status: OrderStatus };
  OrderCancelled: { orderId: number; userId: number; status: OrderStatus; previousStatus: OrderStatus; items: OrderLine[] };
  ProductUpdated: { productId: number; name: string; description: string; priceCents: number; stock: number; version: number };
  ProductRestocked: { productId: number; added: number; stock: number; version: number };
  UserUpdated: { userId: number; name: string; email: string; role: UserRole; version: number };
  /** Written by the notifications projection, so subscribers get notifications in stream order too. */
  NotificationAdded: { notificationId: number; userId: number; orderId: number; kind: NotificationKind };
}

export type EventType = keyof EventDataByType;

export const EVENT_STREAM: Record<EventType, StreamName> = {
  OrderPlaced: 'orders',
  OrderPaid: 'orders',
  OrderShipped: 'orders',
  OrderCancelled: 'orders',
  ProductUpdated: 'catalog',
  ProductRestocked: 'catalog',
  UserUpdated: 'users',
  NotificationAdded: 'notifications',
};

export const EVENT_VERSION = 1;

/** The gateway's aggregates (an added module's have names of their own: module-events.ts). */
export const AGGREGATE_TYPES = ['Order', 'Product', 'User', 'Notification'] as const;
export type AggregateType = (typeof AGGREGATE_TYPES)[number];

export interface DomainEvent<Type extends EventType = EventType> {
  /** Unique per event (a UUID): consumers deduplicate by it. */
  id: string;
  type: Type;
  version: number;
  /** ISO 8601, when the transaction that caused it ran. */
  occurredAt: string;
  aggregate: { type: AggregateType; id: string };
  data: EventDataByType[Type];
  /** The trace this event continues (event-trace.ts); absent when tracing is off. */
  trace?: EventTraceContext;
}

/** W3C Trace Context (https://www.w3.org/TR/trace-context/) as the envelope carries it. */
export interface EventTraceContext {
  /** e.g. "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01". */
  traceparent: string;
  tracestate?: string;
}

