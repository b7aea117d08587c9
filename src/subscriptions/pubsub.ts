// Subscriptions are fed by Redis pub/sub: one subscriber connection per replica, shared by all its
// local subscribers of a channel (graphql-redis-subscriptions does the reference counting).
// type-graphql's `pubSub` option wants `subscribe(key, id?) => AsyncIterable`; RedisPubSub offers
// `asyncIterableIterator(channel)`, so this adapter maps one onto the other. The gateway's own
// subscriptions use the RedisPubSub directly (subscription-feeds.ts), to merge it with replays.
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type Redis from 'ioredis';
import type { PubSub } from 'type-graphql';

export interface RedisPubSubOptions {
  publisher: Redis;
  /** A connection used for nothing else: once subscribed it can only (un)subscribe. */
  subscriber: Redis;
  /** Channel name for a routing key (and an optional narrowing id, e.g. a user id). */
  channelOf(routingKey: string, id?: unknown): string;
}

export function createRedisPubSub({ publisher, subscriber, channelOf }: RedisPubSubOptions): { pubSub: PubSub; redisPubSub: RedisPubSub } {
  const redisPubSub = new RedisPubSub({ publisher, subscriber: withHandledUnsubscribes(subscriber) });
  const pubSub: PubSub = {
    publish: (routingKey: string, payload: unknown) => void redisPubSub.publish(channelOf(routingKey), payload),
    subscribe: (routingKey: string, id?: unknown) =>
      redisPubSub.asyncIterableIterator(channelOf(routingKey, id)) as AsyncIterable<unknown>,
  };
  return { pubSub, redisPubSub };
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
