// What every subscription shares: the event fields ({ cursor, type, occurredAt }), the `after`
// argument, opening a resumable feed for the subscriber's socket, and fresh loaders per event.
import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { badUserInput, unauthenticated } from '../../errors';
import type { EventType } from '../../events/event-types';
import { costSubject, type Viewer } from '../../auth/viewer';
import type { OpenFeedOptions } from '../../subscriptions/subscription-feeds';
import { normalizeStreamId } from '../../subscriptions/stream-ids';
import type { StreamEvent } from '../../subscriptions/stream-replay';
import type { GatewayContext } from '../context';

/** The GraphQL enum EventType: each domain EventType (events/event-types.ts) in upper snake case. */
export const GraphQLEventType = {
  ORDER_PLACED: 'ORDER_PLACED',
  ORDER_PAID: 'ORDER_PAID',
  ORDER_SHIPPED: 'ORDER_SHIPPED',
  ORDER_CANCELLED: 'ORDER_CANCELLED',
  PRODUCT_UPDATED: 'PRODUCT_UPDATED',
  PRODUCT_RESTOCKED: 'PRODUCT_RESTOCKED',
  USER_UPDATED: 'USER_UPDATED',
  NOTIFICATION_ADDED: 'NOTIFICATION_ADDED',
} as const;
export type GraphQLEventType = keyof typeof GraphQLEventType;
registerEnumType(GraphQLEventType, { name: 'EventType', description: 'The domain event a subscription payload reports (docs/events.md).' });

/** "OrderPlaced" → "ORDER_PLACED". */
export function toGraphQLEventType(type: EventType): GraphQLEventType {
  return type.replace(/(?<=[a-z])(?=[A-Z])/g, '_').toUpperCase() as GraphQLEventType;
}

export const AFTER_DESCRIPTION =
  'Resume after this cursor (the `cursor` of the last event you received): you get every event since, ' +
  'then live ones, none twice. CURSOR_EXPIRED when the events after it are no longer kept: refetch then.';

@ObjectType() // a base only: not emitted, as no field returns it
export abstract class StreamEventFields {
  @Field({ description: "This event's position in its stream: pass it as `after` to resume right after it." })
  cursor!: string;

  @Field(() => GraphQLEventType)
  type!: GraphQLEventType;

  @Field({ description: 'When the change happened.' })
  occurredAt!: Date;
}

/** The event fields of a payload; the resolver adds the entity. */
export function eventFields({ cursor, event }: StreamEvent): StreamEventFields {
  return { cursor, type: toGraphQLEventType(event.type), occurredAt: new Date(event.occurredAt) };
}

/** The viewer of a subscription that needs one; UNAUTHENTICATED otherwise. */
export function requireViewer(context: GatewayContext): Viewer {
  if (!context.viewer) throw unauthenticated('Subscribe with connectionParams.authorization = "Bearer <token>" to do this.');
  return context.viewer;
}

/** Opens the subscriber's feed; `after` is the raw argument (BAD_USER_INPUT when malformed). */
export function openFeed(
  context: GatewayContext,
  after: string | null | undefined,
  options: Omit<OpenFeedOptions, 'after' | 'socket'>,
): Promise<AsyncIterableIterator<StreamEvent>> {
  let cursor: string | null = null;
  if (after !== null && after !== undefined) {
    cursor = normalizeStreamId(after);
    if (cursor === null) {
      throw badUserInput(`\`after\` must be a cursor from an earlier event ("<ms>-<seq>"); got ${JSON.stringify(after)}.`, {
        argumentName: 'after',
      });
    }
  }
  return context.services.subscriptions.open({ ...options, after: cursor, socket: context.socket, costSubject: costSubject(context.viewer, context.clientAddress) });
}

/**
 * Each event is resolved with its own loaders: the context lives as long as the subscription, and
 * an entity must be read as it is after this event, not as an earlier event's batch cached it.
 * A live event's loaders are shared with the replica's other subscribers of it (the fan-out reads
 * the entity once); a replayed event gets fresh ones, so a resuming client sees the state of now.
 * graphql-js resolves one event of a subscription at a time, so replacing them here is safe.
 */
export function renewLoaders(context: GatewayContext, { event, isReplayed }: StreamEvent): void {
  context.loaders = isReplayed ? context.services.newLoaders() : context.services.loadersForEvent(event.id);
}
