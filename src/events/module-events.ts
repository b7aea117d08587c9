// Events an added module brings (GatewayModule.events, modules/context.ts). The gateway's own
// vocabulary (event-types.ts) is a closed union that its consumers switch over; a module's events
// travel the same outbox, relay, streams and pub/sub under names of the module's own: the stream of
// each of its event types, and the channels an event of each of its aggregate types is published
// on (subscription-channels.ts). Registered once per process when the app starts (main.ts runs one
// app; Jest gives each test file a registry of its own); a name the gateway or another module
// already uses fails the start.
import type { StaleEntries } from '../cache/invalidation';
import { EVENT_STREAM, STREAMS, type EventType, type StreamName } from './event-types';
import { registerAggregateChannels, type AggregateChannels } from './subscription-channels';

export interface ModuleEvents {
  /** The stream each of the module's event types goes to, e.g. { ReviewAdded: 'catalog' }. */
  streams: Readonly<Record<string, StreamName>>;
  /**
   * The pub/sub channels of an event of each of the module's aggregate types, from the event's
   * data, e.g. { Review: (data) => [{ topic: 'product-reviews', id: Number(data.productId) }] }.
   * Topics are the module's own (the gateway's are dropped). Every aggregate the module's events
   * name must be here; one whose events only go to their stream returns [].
   */
  channels?: Readonly<Record<string, AggregateChannels>>;
}

/** A module's event as the outbox's `emit` takes it (through event-writer.ts's moduleEvent): its own type, aggregate and data. */
export interface ModuleEvent {
  type: string;
  aggregate: { type: string; id: string };
  data: object;
  /** Cache entries it makes stale (`staleEntries`), as for any event. */
  invalidates: StaleEntries[];
}

const moduleStreams = new Map<string, { stream: StreamName; module: string }>();

export function registerModuleEvents(module: string, events: ModuleEvents): void {
  for (const [type, stream] of Object.entries(events.streams)) {
    if (!(STREAMS as readonly string[]).includes(stream)) throw new Error(`Module "${module}" sends ${type} to "${stream}", which is no stream (${STREAMS.join(', ')})`);
    const owner = type in EVENT_STREAM ? 'the gateway' : moduleStreams.get(type)?.module;
    if (owner !== undefined && owner !== module) throw new Error(`Module "${module}" adds the event type ${type}, already ${owner}'s`);
    moduleStreams.set(type, { stream, module });
  }
  for (const [aggregate, channels] of Object.entries(events.channels ?? {})) registerAggregateChannels(module, aggregate, channels);
}

/** The stream of an event type, the gateway's or an added module's. */
export function streamOf(type: string): StreamName {
  const stream = EVENT_STREAM[type as EventType] ?? moduleStreams.get(type)?.stream;
  if (stream === undefined) throw new Error(`No stream for the event type ${type}: a module routes its types with events.streams`);
  return stream;
}
