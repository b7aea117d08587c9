import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { OrderStatus as OrderStatusValue } from '../../db/schema';
import { Connection } from '../common/pagination';

export const OrderStatus = {
  PENDING: 'PENDING',
  PAID: 'PAID',
  SHIPPED: 'SHIPPED',
  CANCELLED: 'CANCELLED',
} as const satisfies Record<OrderStatusValue, OrderStatusValue>;
registerEnumType(OrderStatus, { name: 'OrderStatus' });

@ObjectType({ description: "A customer's order; `user` and `items` resolve through per-request loaders." })
export class Order {
  @Field(() => ID)
  id!: number;

  @Field(() => OrderStatus)
  status!: OrderStatusValue;

  @Field(() => Int)
  totalCents!: number;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;
}

@ObjectType({ description: 'A line of an order, priced when the order was placed.' })
export class OrderItem {
  @Field(() => Int)
  quantity!: number;

  @Field(() => Int)
  unitPriceCents!: number;
}

@ObjectType()
export class OrderConnection extends Connection(Order, 'Order') {}

@InputType()
export class OrderLineInput {
  @Field(() => ID)
  productId!: string;

  @Field(() => Int, { description: 'Units, 1 to 1000.' })
  quantity!: number;
}

@InputType()
export class PlaceOrderInput {
  @Field(() => [OrderLineInput], { description: '1 to 50 lines; the same product twice is merged.' })
  items!: OrderLineInput[];
}
