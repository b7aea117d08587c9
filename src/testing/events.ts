// The domain events a gateway state published, read back from its Redis streams (the stream
// entries consumers read, envelope parsed). A mutation returns once its events are published (the
// outbox write path waits for it), so a test reads them right after the mutation, no waiting.
import type { App } from '../app';
import { fieldsOf, parseStreamEntry } from '../events/consumer-entry';
import type { DomainEvent, StreamName } from '../events/event-types';

export interface PublishedEvent extends DomainEvent {
  /** The entry's stream id: what a subscription's `cursor` and `after` are. */
  cursor: string;
}

export interface EventsOptions {
  /** Only the entries after this cursor. @default from the start of this gateway state */
  after?: string;
}

export async function readPublishedEvents(app: App, stream: StreamName, options: EventsOptions = {}): Promise<PublishedEvent[]> {
  const entries = await app.redis.xrange(app.keys.stream(stream), options.after ? `(${options.after}` : '-', '+');
  // A boundary (the database was replaced, as reset() does) has no event: it is not a domain event.
  return entries.flatMap(([cursor, fields]) => {
    if (fieldsOf(fields).event === undefined) return [];
    const entry = parseStreamEntry(fields);
    if (!entry.isValid) throw new Error(`the entry ${cursor} of ${stream} is not a domain event: ${entry.reason}`);
    return [{ ...entry.event, cursor }];
  });
}
