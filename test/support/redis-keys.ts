// The keys a running gateway or worker (another process) uses: derived keys carry the identity of
// the database Redis is bound to (`sg:database`, set when the process started).
import type Redis from 'ioredis';
import { createRedisKeys, type RedisKeys } from '../../src/redis/keys';

export async function boundRedisKeys(redis: Redis, prefix = 'sg'): Promise<RedisKeys> {
  const identity = await redis.get(createRedisKeys(prefix).databaseIdentity());
  if (!identity) throw new Error('Redis is not bound to a database yet: start a gateway or worker first');
  return createRedisKeys(prefix, () => identity);
}
