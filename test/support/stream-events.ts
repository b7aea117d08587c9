// Domain events written straight into a stream in the documented entry layout (docs/events.md), the
// way the relay writes them, for tests of consumers that must not depend on the write path; and
// the waits that tell when a consumer group has caught up.
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { EVENT_VERSION, type DomainEvent, type EventDataByType, type EventType } from '../../src/events/event-types';

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
export async function publishEvents(redis: Redis, stream: string, events: DomainEvent[]): Promise<string[]> {
  const transaction = redis.multi();
  for (const event of events) transaction.xadd(stream, '*', ...entryFields(event));
  const replies = (await transaction.exec()) ?? [];
  return replies.map(([error, id]) => {
    if (error) throw error;
    return id as string;
  });
}

/** Entries delivered to the group and not acknowledged yet (XPENDING's summary count). */
export async function pendingCount(redis: Redis, stream: string, group: string): Promise<number> {
  const [count] = (await redis.xpending(stream, group)) as [number, ...unknown[]];
  return Number(count);
}

/** Whether the group has read up to `lastId` and acknowledged everything it read. */
export async function hasCaughtUp(redis: Redis, stream: string, group: string, lastId: string): Promise<boolean> {
  const groups = (await redis.xinfo('GROUPS', stream)) as Array<Array<string | number>>;
  const info = groups.map((fields) => Object.fromEntries(fields.flatMap((value, i) => (i % 2 === 0 ? [[value, fields[i + 1]]] : []))));
  const mine = info.find((fields) => fields.name === group);
  if (!mine || compareStreamIds(String(mine['last-delivered-id']), lastId) < 0) return false;
  return (await pendingCount(redis, stream, group)) === 0;
}

export function compareStreamIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bMs, bSeq] = b.split('-').map(BigInt) as [bigint, bigint];
  return aMs === bMs ? Number(aSeq - bSeq) : aMs < bMs ? -1 : 1;
}

/**
 * Polls `condition` (each call awaited) until it holds; fails after `timeoutMs`. For state another
 * process changes (a worker's Postgres rows, a group's pending list), which sends no event.
 */
export async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
