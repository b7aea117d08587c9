// The pub/sub channels an event is published on, next to its stream entry: narrow, so a replica
// decodes only what its subscribers want (per order, per user, per product, per user's
// notifications, and an admin order firehose). Each message is {"cursor": <stream id>, "event": <envelope>}.
// An added module's aggregates publish on channels of the module's own (module-events.ts).
import { AGGREGATE_TYPES, type DomainEvent } from './event-types';

/** The gateway's own topics; a module's are any other names. */
const BUILT_IN_TOPIC_NAMES = ['order', 'user-orders', 'order-events', 'product', 'user', 'user-notifications'] as const;
export type BuiltInTopic = (typeof BUILT_IN_TOPIC_NAMES)[number];
const BUILT_IN_TOPICS: ReadonlySet<string> = new Set(BUILT_IN_TOPIC_NAMES);

export interface SubscriptionChannel {
  topic: BuiltInTopic | (string & {});
  id?: number;
}

/** An added module's channels of one of its aggregates, from the event's data. */
export type AggregateChannels = (data: Readonly<Record<string, unknown>>) => SubscriptionChannel[];

const BUILT_IN_AGGREGATES: ReadonlySet<string> = new Set(AGGREGATE_TYPES);
const moduleAggregates = new Map<string, { module: string; channels: AggregateChannels }>();

/** Routes an added module's aggregate to its channels; an aggregate the gateway or another module has throws. */
export function registerAggregateChannels(module: string, aggregate: string, channels: AggregateChannels): void {
  const owner = BUILT_IN_AGGREGATES.has(aggregate) ? 'the gateway' : moduleAggregates.get(aggregate)?.module;
  if (owner !== undefined && owner !== module) throw new Error(`Module "${module}" adds the aggregate ${aggregate}, already ${owner}'s`);
  moduleAggregates.set(aggregate, { module, channels });
}

export function subscriptionChannels(event: DomainEvent): SubscriptionChannel[] {
  const data = event.data as { orderId?: number; userId?: number; productId?: number };
  const aggregate: string = event.aggregate.type;
  switch (aggregate) {
    case 'Order':
      return [{ topic: 'order', id: data.orderId }, { topic: 'user-orders', id: data.userId }, { topic: 'order-events' }];
    case 'Product':
      return [{ topic: 'product', id: data.productId }];
    case 'User':
      return [{ topic: 'user', id: data.userId }];
    case 'Notification':
      return [{ topic: 'user-notifications', id: data.userId }];
    default: {
      // A module's aggregate. A module never publishes into the gateway's own subscriptions.
      const registered = moduleAggregates.get(aggregate);
      if (!registered) throw new Error(`no channels for aggregate ${aggregate}`);
      return registered.channels(event.data as unknown as Readonly<Record<string, unknown>>).filter((channel) => !BUILT_IN_TOPICS.has(channel.topic));
    }
  }
}

/** Whether events of `aggregate` can be published: the gateway's, or one a module registered. */
export function isKnownAggregate(aggregate: string): boolean {
  return BUILT_IN_AGGREGATES.has(aggregate) || moduleAggregates.has(aggregate);
}
