import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { NotificationRow, OrderRow } from '../../db/schema';
import { badUserInput } from '../../errors';
import type { GatewayContext } from '../context';
import { parseId } from '../common/ids';
import { pageComplexity } from '../common/complexity';
import { PageArgs, toConnection, toPageRequest } from '../common/pagination';
import { Order } from '../orders/order.type';
import { MAX_MARK_READ_IDS } from './notification.service';
import { Notification, NotificationConnection } from './notification.type';

@ArgsType()
class NotificationsArgs extends PageArgs {
  @Field(() => Boolean, { nullable: true, description: 'Only the ones not marked read yet. Default false.' })
  unreadOnly?: boolean | null;
}

@Resolver(() => Notification)
export class NotificationResolver {
  @Authorized()
  @Query(() => NotificationConnection, { description: 'Your notifications, newest first.', complexity: pageComplexity })
  async notifications(@Args(() => NotificationsArgs) { unreadOnly, ...pageArgs }: NotificationsArgs, @Ctx() { viewer, services }: GatewayContext) {
    return toConnection(await services.notifications.list(viewer!.id, toPageRequest(pageArgs), unreadOnly ?? false));
  }

  @Authorized()
  @Mutation(() => Int, {
    description: 'Marks your notifications with these ids read (all of them when `ids` is omitted); returns how many were unread.',
  })
  markNotificationsRead(
    @Arg('ids', () => [ID], { nullable: true }) ids: Array<string | number> | null | undefined,
    @Ctx() { viewer, services }: GatewayContext,
  ): Promise<number> {
    if (ids && ids.length > MAX_MARK_READ_IDS) {
      throw badUserInput(`\`ids\` may hold at most ${MAX_MARK_READ_IDS} ids; got ${ids.length}.`, { argumentName: 'ids' });
    }
    // Someone else's ids simply match nothing: the update is scoped to the viewer.
    return services.notifications.markRead(viewer!.id, ids ? [...new Set(ids.map((id) => parseId(id, 'ids')))] : null);
  }

  @FieldResolver(() => Order, { description: 'The order it is about.' })
  async order(@Root() notification: NotificationRow, @Ctx() { loaders }: GatewayContext): Promise<OrderRow> {
    const order = await loaders.orderById.load(notification.orderId);
    if (!order) throw new Error(`Notification ${notification.id} refers to missing order ${notification.orderId}`);
    return order;
  }
}
