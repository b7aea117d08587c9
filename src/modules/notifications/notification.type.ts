import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import type { NotificationKind as NotificationKindValue } from '../../events/event-types';
import { Connection } from '../common/pagination';

export const NotificationKind = {
  ORDER_PAID: 'ORDER_PAID',
  ORDER_SHIPPED: 'ORDER_SHIPPED',
  ORDER_CANCELLED: 'ORDER_CANCELLED',
} as const satisfies Record<NotificationKindValue, NotificationKindValue>;
registerEnumType(NotificationKind, { name: 'NotificationKind' });

@ObjectType({ description: 'Something that happened to one of your orders; written by the worker from the order events.' })
export class Notification {
  @Field(() => ID)
  id!: number;

  @Field(() => NotificationKind)
  kind!: NotificationKindValue;

  @Field()
  message!: string;

  @Field()
  isRead!: boolean;

  @Field({ description: 'When the change to the order happened.' })
  createdAt!: Date;
}

@ObjectType()
export class NotificationConnection extends Connection(Notification, 'Notification') {}
