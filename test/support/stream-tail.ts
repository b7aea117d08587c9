// The current end of a domain stream, read straight from Redis: a subscription started `after`
// it misses nothing that happens next, however long its websocket takes to be set up.
import Redis from 'ioredis';
import type { StreamName } from '../../src/events/event-types';
import { createRedisKeys } from '../../src/redis/keys';
import { streamTail as readStreamTail } from '../../src/subscriptions/stream-replay';

export async function streamTail(redisUrl: string, stream: StreamName, prefix = 'sg'): Promise<string> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return await readStreamTail(redis, createRedisKeys(prefix).stream(stream));
  } finally {
    redis.disconnect();
  }
}
