// How far behind each consumer group of the domain streams is, from XINFO GROUPS (Redis 7.0+):
// `lag`, the entries the group has not been handed yet, and `pending`, those handed to a consumer
// and not acknowledged yet. A group has caught up when both are 0. Read by /metrics at scrape
// time and by `bench:write` to tell when the projections have applied everything.
import type { RedisClient } from '../redis/client';
import { STREAMS, type StreamName } from '../events/event-types';
import type { RedisKeys } from '../redis/keys';

export interface GroupLag {
  stream: StreamName;
  group: string;
  /**
   * Entries not yet delivered to the group. Null when Redis cannot tell: entries between the
   * group's position and the end were deleted, or the stream was trimmed past that position.
   */
  lag: number | null;
  /** Entries delivered to a consumer of the group and not acknowledged yet. */
  pending: number;
}

/** Whether the group has applied and acknowledged every entry of its stream. */
export const hasCaughtUp = (group: GroupLag): boolean => group.lag === 0 && group.pending === 0;

/** Every group of every domain stream, in one round trip; a stream that does not exist has none. */
export async function readGroupLags(redis: RedisClient, keys: Pick<RedisKeys, 'stream'>): Promise<GroupLag[]> {
  const pipeline = redis.pipeline();
  for (const stream of STREAMS) pipeline.xinfo('GROUPS', keys.stream(stream));
  const replies = (await pipeline.exec()) ?? [];
  return STREAMS.flatMap((stream, index) => {
    const [error, groups] = replies[index] ?? [];
    if (error) {
      // Nothing was ever written to that stream, nor a group created on it.
      if (/no such key/i.test(error.message)) return [];
      throw error;
    }
    return (groups as unknown[][]).map((fields) => {
      const info = new Map<string, unknown>();
      for (let i = 0; i + 1 < fields.length; i += 2) info.set(String(fields[i]), fields[i + 1]);
      const lag = info.get('lag');
      return { stream, group: String(info.get('name')), lag: lag === null || lag === undefined ? null : Number(lag), pending: Number(info.get('pending') ?? 0) };
    });
  });
}
