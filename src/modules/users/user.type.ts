import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import type { UserRole as UserRoleValue } from '../../db/schema';
import { Connection } from '../common/pagination';

export const UserRole = { CUSTOMER: 'CUSTOMER', ADMIN: 'ADMIN' } as const satisfies Record<UserRoleValue, UserRoleValue>;
registerEnumType(UserRole, { name: 'UserRole' });

@ObjectType({ description: 'A shop account.' })
export class User {
  @Field(() => ID)
  id!: number;

  @Field()
  email!: string;

  @Field()
  name!: string;

  @Field(() => UserRole)
  role!: UserRoleValue;

  @Field()
  createdAt!: Date;
}

@ObjectType({ description: 'A new session.' })
export class LoginPayload {
  @Field({ description: 'Send as `Authorization: Bearer <token>`, or as `authorization` in websocket connectionParams.' })
  token!: string;

  @Field({ description: 'When the session ends unless used; every use extends it.' })
  expiresAt!: Date;

  @Field(() => User)
  user!: User;
}

@ObjectType()
export class UserConnection extends Connection(User, 'User') {}

@InputType({ description: 'The fields to change; omitted fields keep their value.' })
export class UpdateUserInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => UserRole, { nullable: true })
  role?: UserRoleValue | null;
}

@InputType({ description: 'Your own profile fields to change; omitted fields keep their value.' })
export class UpdateProfileInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;
}
