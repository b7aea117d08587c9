// Outside clients of gateway processes (replicas): subscribers (test/support/subscriber.ts) whose
// every `next` message is recorded as it came off the socket, and what the orders stream
// (streams.ts) says each of them should have received. The resumable helper drops
// an event whose cursor is not newer than the last one, so its `events` cannot show a duplicate
// the server sent; `deliveries` can. Also: which URL each (re)connection went to, which replicas
// have subscribed to a channel, and which one holds the outbox relay lock.
import { MessageType } from 'graphql-ws';
import { isCluster, serverFor, type RedisClient } from '../../src/redis/client';
import type WebSocket from 'ws';
import type { DomainEvent, EventType } from '../../src/events/event-types';
import type { GatewayProcess } from './gateway-process';
import { waitForStreamEntries } from './streams';
import { waitUntil } from '../../src/testing/wait';
import { startSubscriber, type ReceivedEvent, type TestSubscriber, type TestSubscriberOptions } from './subscriber';

/** What one order event payload (`{ cursor type order { id } }`) says, for comparing sequences. */
export interface OrderDelivery {
  cursor: string;
  type: string;
  orderId: string;
}

export function toOrderDelivery(event: ReceivedEvent): OrderDelivery {
  return { cursor: event.cursor, type: event.type, orderId: String((event.order as { id?: unknown } | null)?.id) };
}

export interface RecordingSubscriber extends TestSubscriber {
  /** Every `next` message the server sent, over all of the client's sockets, in arrival order. */
  deliveries: OrderDelivery[];
  /** The URL of each acknowledged (re)connection, oldest first. */
  connectedUrls: string[];
}

/** startSubscriber for an order subscription (payload `{ cursor type order { id ... } }`), recording raw deliveries. */
export function startRecordingSubscriber(options: TestSubscriberOptions): RecordingSubscriber {
  const subscriber = startSubscriber(options);
  const deliveries: OrderDelivery[] = [];
  const connectedUrls: string[] = [];
  // Registered before the socket can have opened: the client connects asynchronously.
  subscriber.client.on('message', (message) => {
    if (message.type !== MessageType.Next) return;
    const event = (message.payload.data as Record<string, ReceivedEvent | null> | null | undefined)?.[options.field];
    deliveries.push(event ? toOrderDelivery(event) : { cursor: '(none)', type: 'ERRORS', orderId: JSON.stringify(message.payload.errors) });
  });
  subscriber.client.on('connected', (socket) => connectedUrls.push((socket as WebSocket).url));
  return Object.assign(subscriber, { deliveries, connectedUrls });
}

export interface OrderEventData {
  orderId: number;
  userId: number;
}

export interface OrderStreamEntry {
  cursor: string;
  event: DomainEvent;
  data: OrderEventData;
}

/** The GraphQL `type` of each order event (docs/events.md names the stream's). */
const GRAPHQL_TYPE: Partial<Record<EventType, string>> = {
  OrderPlaced: 'ORDER_PLACED',
  OrderPaid: 'ORDER_PAID',
  OrderShipped: 'ORDER_SHIPPED',
  OrderCancelled: 'ORDER_CANCELLED',
};

/** The orders stream (`streamKey`) after `after`, once it holds at least `count` entries (the relay may still be publishing). */
export async function orderStreamAfter(redis: RedisClient, streamKey: string, after: string, count: number, timeoutMs = 20_000): Promise<OrderStreamEntry[]> {
  const entries = await waitForStreamEntries(redis, streamKey, after, count, timeoutMs);
  return entries.map((entry) => ({ cursor: entry.streamId, event: entry.event, data: entry.event.data as OrderEventData }));
}

/** What a subscriber should receive: the stream's own order entries that pass `isFor`, in stream order. */
export function expectedDeliveries(entries: OrderStreamEntry[], isFor: (data: OrderEventData) => boolean): OrderDelivery[] {
  return entries
    .filter(({ event, data }) => event.aggregate.type === 'Order' && isFor(data))
    .map(({ cursor, event, data }) => ({ cursor, type: GRAPHQL_TYPE[event.type] ?? event.type, orderId: String(data.orderId) }));
}

/** How many connections are subscribed to `channel`: PUBSUB NUMSUB, or on a Cluster SHARDNUMSUB on the channel's master (sharded pub/sub). */
export async function channelSubscribers(redis: RedisClient, channel: string): Promise<number> {
  const reply = isCluster(redis)
    ? ((await (await serverFor(redis, channel)).call('PUBSUB', 'SHARDNUMSUB', channel)) as Array<string | number>)
    : ((await redis.call('PUBSUB', 'NUMSUB', channel)) as Array<string | number>);
  return Number(reply[1]);
}

/** Polls until each channel has at least as many subscribers (one per replica) as given. */
export async function waitForChannelSubscribers(redis: RedisClient, subscriberCounts: Record<string, number>, timeoutMs = 20_000): Promise<void> {
  const channels = Object.keys(subscriberCounts);
  await waitUntil(
    async () => (await Promise.all(channels.map((channel) => channelSubscribers(redis, channel)))).every((count, index) => count >= subscriberCounts[channels[index]!]!),
    `replicas subscribed to ${JSON.stringify(subscriberCounts)}`,
    timeoutMs,
  );
}

/** The processes whose /readyz says they hold the outbox relay lock. */
export async function relayLeaders(among: GatewayProcess[]): Promise<GatewayProcess[]> {
  const isLeader = await Promise.all(
    among.map(async (replica) => {
      const body = (await (await fetch(new URL('/readyz', replica.url))).json()) as { details?: { isRelayLeader?: boolean } };
      return body.details?.isRelayLeader === true;
    }),
  );
  return among.filter((_, index) => isLeader[index]);
}
