// Subscriptions are fed by Redis pub/sub: one subscriber connection per replica, shared by all its
// local subscribers of a channel (graphql-redis-subscriptions does the reference counting). The
// feeds (subscription-feeds.ts) subscribe through it and merge what arrives with stream replays.
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type Redis from 'ioredis';

export interface RedisPubSubOptions {
  publisher: Redis;
  /** A connection used for nothing else: once subscribed it can only (un)subscribe. */
  subscriber: Redis;
}

export function createRedisPubSub({ publisher, subscriber }: RedisPubSubOptions): RedisPubSub {
  return new RedisPubSub({ publisher, subscriber: withHandledUnsubscribes(subscriber) });
}

/**
 * RedisPubSub drops the promises of its UNSUBSCRIBE / PUNSUBSCRIBE commands. One that fails (the
 * connection closing while it is queued, e.g. a subscription ending during shutdown with Redis
 * away) would be an unhandled rejection, which ends a Node process. Nothing is lost by ignoring
 * it: ioredis forgets the channel on its next reconnect only if the UNSUBSCRIBE went through, and
 * a channel nobody listens to any more costs one ignored message per event.
 */
function withHandledUnsubscribes(subscriber: Redis): Redis {
  return new Proxy(subscriber, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property === 'unsubscribe' || property === 'punsubscribe') {
        return (...args: unknown[]) => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).catch(() => undefined);
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}
