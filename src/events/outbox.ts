// Writing events: inside the mutation's transaction, after it locked the aggregate's rows, so
// events of one aggregate get increasing outbox ids in commit order.
import { randomUUID } from 'node:crypto';
import type { StaleEntries } from '../cache/invalidation';
import type { Db } from '../db/client';
import { currentDatabaseIdentity } from '../db/identity';
import { namedStatement, runNamed, sqlText } from '../db/named-statement';
import { EVENT_VERSION, type DomainEvent, type EventDataByType, type EventType } from './event-types';
import { streamOf } from './module-events';
import { isKnownAggregate } from './subscription-channels';
import { traceAppend } from './event-trace';

/**
 * NOTIFY channel that wakes the relay (on whichever replica holds it) when a row commits; the
 * payload is "<database identity> <outbox id>". The outbox_notify trigger sends it (migration 0003).
 */
export const OUTBOX_NOTIFY_CHANNEL = 'streamgate_outbox';

/** A row as the NOTIFY payload (and the relay) names it: "<database identity> <outbox id>". */
export const outboxRowName = (database: string, outboxId: number) => `${database} ${outboxId}`;

export interface NewEvent<Type extends EventType> {
  type: Type;
  aggregate: DomainEvent['aggregate'];
  data: EventDataByType[Type];
  /** Cache entries this change makes stale (`staleEntries`); the relay invalidates them before it publishes. */
  invalidates: StaleEntries[];
}

/** An appended row: its outbox id, and the identity of the database it went into. */
export interface AppendedEvent {
  outboxId: number;
  database: string;
}

/**
 * The outbox row of an event, with the identity of the database it went into (read in the same
 * statement). The id as text: node-postgres and PGlite read a bigint differently.
 */
const appendStatement = namedStatement(
  'append_event',
  `insert into outbox (event_id, stream, type, aggregate_type, aggregate_id, payload, invalidations)
   values ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)
   returning id::text as outbox_id, ${sqlText(currentDatabaseIdentity)} as database`,
);

/** An outbox row's values, in the order of the columns appendEvent inserts (event_id … invalidations). */
export type OutboxRowValues = [eventId: string, stream: string, type: string, aggregateType: string, aggregateId: string, payload: string, invalidations: string];

/** Inserts the event into the outbox (in `tx`); its envelope carries the active trace, if any. */
export async function appendEvent<Type extends EventType>(tx: Db, event: NewEvent<Type>): Promise<AppendedEvent> {
  return appendEventWith(event, async (values) => {
    const [row] = await runNamed<{ outbox_id: string; database: string }>(tx, appendStatement, values);
    return { outboxId: Number(row!.outbox_id), database: row!.database };
  });
}

/**
 * Checks the event and builds its outbox row (the envelope with the active trace), then runs
 * `insert` with it: appendEvent's INSERT, or a statement that writes the row together with the
 * change (orders' placeOrder). The insert NOTIFYs OUTBOX_NOTIFY_CHANNEL itself (a trigger, migration 0003).
 */
export async function appendEventWith<Type extends EventType, Result>(event: NewEvent<Type>, insert: (values: OutboxRowValues) => Promise<Result>): Promise<Result> {
  // Refused here, in the mutation, rather than by the relay, which could never publish the row.
  const stream = streamOf(event.type);
  if (!isKnownAggregate(event.aggregate.type)) throw new Error(`Events of the aggregate ${event.aggregate.type} have no pub/sub channels: a module lists its aggregates in events.channels`);
  const id = randomUUID();
  return traceAppend({ id, type: event.type }, (trace) => {
    const envelope: DomainEvent<Type> = {
      id,
      type: event.type,
      version: EVENT_VERSION,
      occurredAt: new Date().toISOString(),
      aggregate: event.aggregate,
      data: event.data,
      ...(trace && { trace }),
    };
    return insert([envelope.id, stream, event.type, event.aggregate.type, event.aggregate.id, JSON.stringify(envelope), JSON.stringify(event.invalidates)]);
  });
}
