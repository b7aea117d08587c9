// notificationAdded: the viewer's new notifications, as the notifications projection writes them
// (each one's NotificationAdded event goes through the outbox like any other event).
import { Arg, Ctx, Field, ObjectType, Resolver, Root, Subscription } from 'type-graphql';
import type { EventDataByType } from '../../events/event-types';
import type { NotificationRow } from '../../db/schema';
import type { StreamEvent } from '../../subscriptions/stream-replay';
import type { GatewayContext } from '../context';
import { AFTER_DESCRIPTION, eventFields, openFeed, renewLoaders, requireViewer, StreamEventFields } from '../common/stream-event';
import { Notification } from './notification.type';

@ObjectType({ description: 'A notification was added for you.' })
export class NotificationEvent extends StreamEventFields {
  @Field(() => Notification, { description: 'The notification as it is now (it may be read already).' })
  notification!: NotificationRow;
}

const notificationData = ({ event }: StreamEvent) =>
  event.type === 'NotificationAdded' ? (event.data as EventDataByType['NotificationAdded']) : null;

@Resolver()
export class NotificationSubscriptionResolver {
  @Subscription(() => NotificationEvent, {
    description: 'Your new notifications.',
    subscribe: ({ args, context }: { args: { after?: string | null }; context: GatewayContext }) => {
      const viewer = requireViewer(context);
      return openFeed(context, args.after, {
        channel: { topic: 'user-notifications', id: viewer.id },
        stream: 'notifications',
        matches: (event) => notificationData(event)?.userId === viewer.id,
      });
    },
  })
  async notificationAdded(
    @Root() event: StreamEvent,
    @Arg('after', () => String, { nullable: true, description: AFTER_DESCRIPTION }) _after: string | null,
    @Ctx() context: GatewayContext,
  ): Promise<NotificationEvent> {
    renewLoaders(context, event);
    const { notificationId } = notificationData(event)!;
    const notification = await context.services.notifications.byId(notificationId);
    if (!notification) throw new Error(`Notification event ${event.event.id} refers to missing notification ${notificationId}`);
    return { ...eventFields(event), notification };
  }
}
