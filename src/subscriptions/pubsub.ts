// Subscriptions are fed by Redis pub/sub: one subscriber connection per replica (on a Cluster, one
// per master, sharded: redis/sharded-subscriber.ts), shared by all its local subscribers of a
// channel (graphql-redis-subscriptions does the reference counting). The feeds
// (subscription-feeds.ts) subscribe through it and merge what arrives with stream replays. Only
// its subscribing side is used: the outbox relay publishes.
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { RedisClient, RedisSubscriber } from '../redis/client';

export interface RedisPubSubOptions {
  publisher: RedisClient;
  /** A connection used for nothing else: once subscribed it can only (un)subscribe. */
  subscriber: RedisSubscriber;
}

type SubscriberMethod = (...args: unknown[]) => Promise<unknown>;

export function createRedisPubSub({ publisher, subscriber }: RedisPubSubOptions): RedisPubSub {
  return new RedisPubSub({ publisher, subscriber: asPubSubSubscriber(subscriber) as RedisClient });
}

/**
 * The subscriber as RedisPubSub uses it:
 * - it passes a callback after the channel; RedisSubscriber takes the channels and answers with a
 *   promise, so the callback is called from it;
 * - it drops the promises of its UNSUBSCRIBE / PUNSUBSCRIBE commands. One that fails (the
 *   connection closing while it is queued, e.g. a subscription ending during shutdown with Redis
 *   away) would be an unhandled rejection, which ends a Node process. Nothing is lost by ignoring
 *   it: ioredis forgets the channel on its next reconnect only if the UNSUBSCRIBE went through,
 *   and a channel nobody listens to any more costs one ignored message per event. (No pattern is
 *   ever subscribed: PUNSUBSCRIBE does nothing.)
 */
function asPubSubSubscriber(subscriber: RedisSubscriber): RedisSubscriber {
  return new Proxy(subscriber, {
    get(target, property) {
      // Asked before the method itself: a Cluster's sharded subscriber has no PUNSUBSCRIBE, and
      // RedisPubSub calling a missing one would throw before it forgets the channel.
      if (property === 'punsubscribe') return async () => undefined;
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property === 'subscribe') {
        return (...args: unknown[]) => {
          const callback = typeof args.at(-1) === 'function' ? (args.pop() as (error: Error | null) => void) : undefined;
          const subscribing = (value as SubscriberMethod).apply(target, args);
          // With a callback, a failure goes to it alone (the promise is dropped by the caller).
          return callback ? subscribing.then(() => callback(null), (error: Error) => callback(error)) : subscribing;
        };
      }
      if (property === 'unsubscribe') return (...args: unknown[]) => (value as SubscriberMethod).apply(target, args).catch(() => undefined);
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
