// Order subscriptions: one order, the viewer's orders, and the admin firehose. Each event is
// checked against the subscriber once more when it arrives (matches), so a customer never gets
// another customer's order, whatever channel it came in on.
import { Arg, Ctx, Field, ID, ObjectType, Resolver, Root, Subscription } from 'type-graphql';
import { canSee, isAdmin, type Viewer } from '../../auth/viewer';
import type { OrderRow } from '../../db/schema';
import { AppError, ErrorCode, forbidden } from '../../errors';
import type { StreamEvent } from '../../subscriptions/stream-replay';
import type { GatewayContext } from '../context';
import { parseId } from '../common/ids';
import { AFTER_DESCRIPTION, eventFields, openFeed, renewLoaders, requireViewer, StreamEventFields } from '../common/stream-event';
import { Order } from './order.type';

@ObjectType({ description: 'Something that happened to an order.' })
export class OrderEvent extends StreamEventFields {
  @Field(() => Order, { description: 'The order as it is now (for a replayed event: now, not then).' })
  order!: OrderRow;
}

interface OrderEventData {
  orderId: number;
  userId: number;
}

const orderData = ({ event }: StreamEvent): OrderEventData | null =>
  event.aggregate.type === 'Order' ? (event.data as OrderEventData) : null;

/** The order events a viewer may see. */
const isVisibleTo = (viewer: Viewer) => (event: StreamEvent) => {
  const data = orderData(event);
  return data !== null && canSee(viewer, data.userId);
};

async function toOrderEvent(event: StreamEvent, context: GatewayContext): Promise<OrderEvent> {
  renewLoaders(context, event);
  const { orderId } = orderData(event)!;
  const order = await context.loaders.orderById.load(orderId);
  if (!order) throw new Error(`Order event ${event.event.id} refers to missing order ${orderId}`);
  return { ...eventFields(event), order };
}

interface AfterArgs {
  after?: string | null;
}

@Resolver()
export class OrderSubscriptionResolver {
  @Subscription(() => OrderEvent, {
    description: 'Events of one order: yours, or any for admins. NOT_FOUND for an order you may not see.',
    subscribe: async ({ args, context }: { args: AfterArgs & { orderId: string }; context: GatewayContext }) => {
      const viewer = requireViewer(context);
      const orderId = parseId(args.orderId, 'orderId');
      // The context's loaders are fresh here: nothing was read with them yet.
      const order = await context.loaders.orderById.load(orderId);
      if (!order || !canSee(viewer, order.userId)) throw new AppError(ErrorCode.NotFound, `Order ${orderId} was not found.`);
      const isVisible = isVisibleTo(viewer);
      return openFeed(context, args.after, {
        channel: { topic: 'order', id: orderId },
        stream: 'orders',
        matches: (event) => orderData(event)?.orderId === orderId && isVisible(event),
      });
    },
  })
  orderUpdated(
    @Root() event: StreamEvent,
    @Arg('orderId', () => ID) _orderId: string,
    @Arg('after', () => String, { nullable: true, description: AFTER_DESCRIPTION }) _after: string | null,
    @Ctx() context: GatewayContext,
  ): Promise<OrderEvent> {
    return toOrderEvent(event, context);
  }

  @Subscription(() => OrderEvent, {
    description: 'Events of your own orders.',
    subscribe: ({ args, context }: { args: AfterArgs; context: GatewayContext }) => {
      const viewer = requireViewer(context);
      return openFeed(context, args.after, {
        channel: { topic: 'user-orders', id: viewer.id },
        stream: 'orders',
        // The viewer's own orders: the ownership check is the authorization.
        matches: (event) => orderData(event)?.userId === viewer.id,
      });
    },
  })
  myOrders(
    @Root() event: StreamEvent,
    @Arg('after', () => String, { nullable: true, description: AFTER_DESCRIPTION }) _after: string | null,
    @Ctx() context: GatewayContext,
  ): Promise<OrderEvent> {
    return toOrderEvent(event, context);
  }

  @Subscription(() => OrderEvent, {
    description: 'Every order event (admins only).',
    subscribe: ({ args, context }: { args: AfterArgs; context: GatewayContext }) => {
      const viewer = requireViewer(context);
      if (!isAdmin(viewer)) throw forbidden('Only admins may subscribe to every order event.');
      return openFeed(context, args.after, { channel: { topic: 'order-events' }, stream: 'orders', matches: isVisibleTo(viewer) });
    },
  })
  orderEvents(
    @Root() event: StreamEvent,
    @Arg('after', () => String, { nullable: true, description: AFTER_DESCRIPTION }) _after: string | null,
    @Ctx() context: GatewayContext,
  ): Promise<OrderEvent> {
    return toOrderEvent(event, context);
  }
}
