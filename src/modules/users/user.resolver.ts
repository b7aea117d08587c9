import { Arg, Args, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { canSee } from '../../auth/viewer';
import { unauthenticated } from '../../errors';
import type { GatewayContext } from '../context';
import { parseId } from '../common/ids';
import { pageComplexity } from '../common/complexity';
import { PageArgs, toConnection, toPageRequest } from '../common/pagination';
import type { UserRecord } from './user.loader';
import { LoginPayload, UpdateProfileInput, UpdateUserInput, User, UserConnection } from './user.type';
import { Cacheable } from '../common/cacheable';

@Resolver(() => User)
export class UserResolver {
  @Cacheable({ scope: 'viewer' })
  @Query(() => User, { nullable: true, description: 'The logged-in user; null when the request has no session.' })
  me(@Ctx() { viewer, loaders }: GatewayContext): Promise<UserRecord | null> | null {
    return viewer ? loaders.userById.load(viewer.id) : null;
  }

  @Authorized()
  @Cacheable({ scope: 'viewer' })
  @Query(() => User, { nullable: true, description: 'A user: yourself, or anyone for admins; null otherwise.' })
  async user(@Arg('id', () => ID) id: string, @Ctx() { viewer, loaders }: GatewayContext): Promise<UserRecord | null> {
    const userId = parseId(id);
    return canSee(viewer, userId) ? loaders.userById.load(userId) : null;
  }

  @Authorized('ADMIN')
  @Cacheable({ scope: 'viewer' })
  @Query(() => UserConnection, { description: 'All users, oldest first (admins only).', complexity: pageComplexity })
  async users(@Args(() => PageArgs) args: PageArgs, @Ctx() { loaders }: GatewayContext) {
    return toConnection(await loaders.userPages.load(toPageRequest(args)));
  }

  @Mutation(() => LoginPayload, {
    description: 'Opens a session. Invalid credentials give UNAUTHENTICATED; repeated failures RATE_LIMITED.',
  })
  login(
    @Arg('email') email: string,
    @Arg('password') password: string,
    @Ctx() { services, clientAddress }: GatewayContext,
  ): Promise<LoginPayload> {
    return services.users.login(email, password, clientAddress);
  }

  @Mutation(() => Boolean, { description: "Ends this request's session; false when it had already ended." })
  logout(@Ctx() { services, sessionToken }: GatewayContext): Promise<boolean> {
    if (!sessionToken) throw unauthenticated();
    return services.users.logout(sessionToken);
  }

  @Authorized('ADMIN')
  @Mutation(() => User, { description: 'Changes a user (admins only). A role change ends their sessions.' })
  updateUser(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateUserInput) input: UpdateUserInput,
    @Ctx() { services }: GatewayContext,
  ): Promise<UserRecord> {
    return services.users.update(parseId(id), input);
  }

  @Authorized()
  @Mutation(() => User, { description: 'Changes your own name or email.' })
  updateProfile(@Arg('input', () => UpdateProfileInput) input: UpdateProfileInput, @Ctx() { services, viewer }: GatewayContext): Promise<UserRecord> {
    return services.users.update(viewer!.id, { name: input.name, email: input.email });
  }

  @Authorized()
  @Mutation(() => Int, { description: 'Ends every session of the logged-in user; returns how many ended.' })
  logoutAll(@Ctx() { services, viewer }: GatewayContext): Promise<number> {
    return services.users.logoutAll(viewer!.id);
  }
}
