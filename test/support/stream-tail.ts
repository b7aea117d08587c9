// The current end of a domain stream, read straight from Redis: a subscription started `after`
// it misses nothing that happens next, however long its websocket takes to be set up.
import Redis from 'ioredis';
import type { StreamName } from '../../src/events/event-types';
import { lastStreamId } from './orders';

/** lastStreamId for a test that has only the redis-server's URL at hand. */
export async function streamTail(redisUrl: string, stream: StreamName): Promise<string> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return await lastStreamId(redis, stream);
  } finally {
    redis.disconnect();
  }
}
