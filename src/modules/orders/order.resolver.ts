import { Arg, Args, ArgsType, Authorized, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { OrderItemRow, OrderRow, OrderStatus as OrderStatusValue, ProductRow } from '../../db/schema';
import { canSee, isAdmin } from '../../auth/viewer';
import { forbidden } from '../../errors';
import type { GatewayContext } from '../context';
import { parseId } from '../common/ids';
import { fixedListComplexity, pageComplexity } from '../common/complexity';
import { PageArgs, toConnection, toPageRequest } from '../common/pagination';
import { Product } from '../catalog/product.type';
import type { UserRecord } from '../users/user.loader';
import { User } from '../users/user.type';
import { Order, OrderConnection, OrderItem, OrderStatus, PlaceOrderInput } from './order.type';
import { Cacheable } from '../common/cacheable';

@ArgsType()
class OrdersArgs extends PageArgs {
  @Field(() => OrderStatus, { nullable: true })
  status?: OrderStatusValue | null;
}

@Resolver(() => Order)
export class OrderResolver {
  @Authorized()
  @Cacheable({ scope: 'viewer' })
  @Query(() => Order, { nullable: true, description: 'One of your orders (any order for admins); null otherwise.' })
  async order(@Arg('id', () => ID) id: string, @Ctx() { viewer, loaders }: GatewayContext): Promise<OrderRow | null> {
    const order = await loaders.orderById.load(parseId(id));
    // Someone else's order answers exactly like a missing one: existence is not leaked.
    return order && canSee(viewer, order.userId) ? order : null;
  }

  @Authorized()
  @Cacheable({ scope: 'viewer' })
  @Query(() => OrderConnection, { description: 'Your orders, newest first (all orders for admins).', complexity: pageComplexity })
  async orders(@Args(() => OrdersArgs) { status, ...pageArgs }: OrdersArgs, @Ctx() { viewer, loaders }: GatewayContext) {
    const scope = isAdmin(viewer) ? 'all' : viewer!.id;
    return toConnection(await loaders.orderPages.load({ scope, status: status ?? null, ...toPageRequest(pageArgs) }));
  }

  @Authorized()
  @Mutation(() => Order, {
    description:
      'Places an order: stock is taken in the same transaction (CONFLICT when short). With an idempotencyKey, a retry returns the first order.',
  })
  async placeOrder(
    @Arg('input', () => PlaceOrderInput) input: PlaceOrderInput,
    @Arg('idempotencyKey', () => String, { nullable: true }) idempotencyKey: string | null,
    @Ctx() { viewer, services, loaders }: GatewayContext,
  ): Promise<OrderRow> {
    const lines = input.items.map((item) => ({ productId: parseId(item.productId, 'productId'), quantity: item.quantity }));
    const { order, written } = await services.orders.place(viewer!, lines, idempotencyKey);
    // The answer shows the order as its own transaction wrote it: its items and products need no
    // second read (this request's loaders only; nothing goes to the cache from here).
    if (written) {
      loaders.itemsByOrderId.prime(order.id, written.items);
      for (const product of written.products) loaders.productById.prime(product.id, product);
    }
    return order;
  }

  @Authorized()
  @Mutation(() => Order, { description: 'PENDING → PAID (your own order; admins any).' })
  payOrder(@Arg('id', () => ID) id: string, @Ctx() { viewer, services }: GatewayContext): Promise<OrderRow> {
    return services.orders.pay(viewer!, parseId(id));
  }

  @Authorized('ADMIN')
  @Mutation(() => Order, { description: 'PAID → SHIPPED (admins only).' })
  shipOrder(@Arg('id', () => ID) id: string, @Ctx() { viewer, services }: GatewayContext): Promise<OrderRow> {
    return services.orders.ship(viewer!, parseId(id));
  }

  @Authorized()
  @Mutation(() => Order, { description: 'PENDING or PAID → CANCELLED; the items go back into stock.' })
  cancelOrder(@Arg('id', () => ID) id: string, @Ctx() { viewer, services }: GatewayContext): Promise<OrderRow> {
    return services.orders.cancel(viewer!, parseId(id));
  }

  @FieldResolver(() => User)
  async user(@Root() order: OrderRow, @Ctx() { loaders }: GatewayContext): Promise<UserRecord> {
    const user = await loaders.userById.load(order.userId);
    if (!user) throw new Error(`Order ${order.id} refers to missing user ${order.userId}`);
    return user;
  }

  // Counted as 10 lines rather than the 50 an order may have: most orders have a few, and a page
  // of 100 orders with their items and products has to fit the default GRAPHQL_MAX_COST.
  @FieldResolver(() => [OrderItem], { complexity: fixedListComplexity(10) })
  items(@Root() order: OrderRow, @Ctx() { loaders }: GatewayContext): Promise<OrderItemRow[]> {
    return loaders.itemsByOrderId.load(order.id);
  }
}

@Resolver(() => OrderItem)
export class OrderItemResolver {
  @FieldResolver(() => Product)
  async product(@Root() item: OrderItemRow, @Ctx() { loaders }: GatewayContext): Promise<ProductRow> {
    const product = await loaders.productById.load(item.productId);
    if (!product) throw new Error(`Order item ${item.id} refers to missing product ${item.productId}`);
    return product;
  }
}

@Resolver(() => User)
export class UserOrdersResolver {
  @FieldResolver(() => OrderConnection, { description: "The user's orders, newest first.", complexity: pageComplexity })
  async orders(@Root() user: UserRecord, @Args(() => PageArgs) args: PageArgs, @Ctx() { viewer, loaders }: GatewayContext) {
    if (!canSee(viewer, user.id)) throw forbidden("You may not read this user's orders.");
    return toConnection(await loaders.orderPages.load({ scope: user.id, status: null, ...toPageRequest(args) }));
  }
}
