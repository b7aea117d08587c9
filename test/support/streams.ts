// Domain streams read and written straight in Redis, the one way the tests do it. Reading: every
// entry after an id with its envelope parsed, the tail ("now": subscribe after it and miss nothing),
// and a wait until the relay has published so many entries. Writing: events in the documented entry
// layout (docs/events.md), as the relay writes them, for consumer tests that must not depend on the
// write path. Consumer groups: pending count and "caught up". Stream ids compare as src does
// (src/subscriptions/stream-ids.ts). Every function takes the stream's full key (`keys.stream(name)`
// of the test's Redis or gateway), so the prefix is never assumed.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../src/redis/client';
import { EVENT_VERSION, type DomainEvent, type EventDataByType, type EventType, type StreamName } from '../../src/events/event-types';
import { compareStreamIds } from '../../src/subscriptions/stream-ids';
import { streamTail } from '../../src/subscriptions/stream-replay';
import type { TestRedis } from '../../src/testing/redis-topology';
import { waitUntil } from '../../src/testing/wait';

/** The id of the newest entry (0-0 for an empty stream), as subscriptions read "now": src's own. */
export { streamTail };

export interface StreamEntry extends StreamFields {
  event: DomainEvent;
}

export interface StreamFields {
  streamId: string;
  fields: Record<string, string>;
}

/** Every entry of a stream (after `afterId`, exclusive), in stream order, as its fields (a repeated field keeps its last value). */
export async function readStreamFields(redis: RedisClient, streamKey: string, afterId?: string): Promise<StreamFields[]> {
  const entries = await redis.xrange(streamKey, afterId ? `(${afterId}` : '-', '+');
  return entries.map(([streamId, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { streamId, fields };
  });
}

/** readStreamFields with each envelope parsed: for streams of well-formed events (not a dead-letter stream of poison ones). */
export async function readStream(redis: RedisClient, streamKey: string, afterId?: string): Promise<StreamEntry[]> {
  const entries = await readStreamFields(redis, streamKey, afterId);
  return entries.map((entry) => ({ ...entry, event: JSON.parse(entry.fields.event ?? 'null') as DomainEvent }));
}

/** The entries of `type` about one aggregate, in stream order. */
export function entriesOf(entries: StreamEntry[], type: EventType, aggregateId: number | string): StreamEntry[] {
  return entries.filter((entry) => entry.event.type === type && entry.event.aggregate.id === String(aggregateId));
}

/** The stream after `afterId`, once it holds at least `count` entries (the relay may still be publishing). */
export async function waitForStreamEntries(redis: RedisClient, streamKey: string, afterId: string, count: number, timeoutMs = 20_000): Promise<StreamEntry[]> {
  let entries: StreamEntry[] = [];
  await waitUntil(async () => (entries = await readStream(redis, streamKey, afterId)).length >= count, `${streamKey} holds ${count} entries after ${afterId}`, timeoutMs);
  return entries;
}

/** The tail of a domain stream of the test's Redis, on a connection of its own (opened and closed here). */
export async function streamTailOf(redis: TestRedis, stream: StreamName): Promise<string> {
  const connection = redis.connect({ lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await connection.connect();
    return await streamTail(connection, redis.keys.stream(stream));
  } finally {
    connection.disconnect();
  }
}

type OrderEventType = Extract<EventType, `Order${string}`>;

/** An order event's envelope with a fresh id (or the given one, to publish the same event twice). */
export function orderEvent<Type extends OrderEventType>(type: Type, data: EventDataByType[Type], id: string = randomUUID()): DomainEvent<Type> {
  return { id, type, version: EVENT_VERSION, occurredAt: new Date().toISOString(), aggregate: { type: 'Order', id: String(data.orderId) }, data };
}

/** The entry's fields, flattened for XADD. */
export function entryFields(event: DomainEvent): string[] {
  return ['eventId', event.id, 'type', event.type, 'aggregateType', event.aggregate.type, 'aggregateId', event.aggregate.id, 'event', JSON.stringify(event)];
}

/** XADDs the events in one MULTI (so a blocked consumer is woken once, for all of them); returns their stream ids. */
export async function publishEvents(redis: RedisClient, streamKey: string, events: DomainEvent[]): Promise<string[]> {
  const transaction = redis.multi();
  for (const event of events) transaction.xadd(streamKey, '*', ...entryFields(event));
  const replies = (await transaction.exec()) ?? [];
  return replies.map(([error, id]) => {
    if (error) throw error;
    return id as string;
  });
}

/** Entries delivered to the group and not acknowledged yet (XPENDING's summary count). */
export async function pendingCount(redis: RedisClient, streamKey: string, group: string): Promise<number> {
  const [count] = (await redis.xpending(streamKey, group)) as [number, ...unknown[]];
  return Number(count);
}

/** Whether the group has read up to `lastId` and acknowledged everything it read. */
export async function hasCaughtUp(redis: RedisClient, streamKey: string, group: string, lastId: string): Promise<boolean> {
  const groups = (await redis.xinfo('GROUPS', streamKey)) as Array<Array<string | number>>;
  const info = groups.map((fields) => Object.fromEntries(fields.flatMap((value, i) => (i % 2 === 0 ? [[value, fields[i + 1]]] : []))));
  const mine = info.find((fields) => fields.name === group);
  if (!mine || compareStreamIds(String(mine['last-delivered-id']), lastId) < 0) return false;
  return (await pendingCount(redis, streamKey, group)) === 0;
}
