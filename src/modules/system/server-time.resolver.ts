import { Repeater } from '@graphql-yoga/subscription';
import { Resolver, Root, Subscription } from 'type-graphql';

/** Proves the websocket wiring end to end: emits at once, then every second, until unsubscribed. */
@Resolver()
export class ServerTimeResolver {
  @Subscription(() => Date, {
    description: 'The server clock: now, then every second.',
    subscribe: () =>
      new Repeater<Date>(async (push, stop) => {
        await push(new Date());
        const timer = setInterval(() => void push(new Date()), 1000);
        await stop;
        clearInterval(timer);
      }),
  })
  serverTime(@Root() now: Date): Date {
    return now;
  }
}
