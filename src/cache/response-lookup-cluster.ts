// A cached response's lookup on a Redis Cluster. readResponse-n.lua does it in one script, which
// Cluster forbids: the response and each cache type's generations and versions live on slots of
// their own (keys.ts). So it takes two steps, each sent at once to every master involved:
// 1. the response's GET, with each type's generations (readGenerations-n.lua, on the type's slot);
// 2. for the header's groups whose generation moved since the response was computed, their
//    versions (checkResponseVersions-1.lua, on the type's slot); none when nothing moved.
// Why checking the types one by one, at slightly different moments, is still safe: generations and
// versions are tokens never used twice, so a type found current at its check was unchanged from
// the response's computation until that check; every check runs after this request began, and
// every write acknowledged before it began had already deleted the versions of what it changed.
// So a response served here holds no data older than a write acknowledged before the request.
import type { Cluster } from 'ioredis';
import type { RedisKeys } from '../redis/keys';
import type { CacheScripts } from '../redis/scripts';
import { parseHeader } from './dependencies';
import { decodeStoredResponse } from './stored-response';

/** The generation keys of one cache type, and where their values go in the lookup's generations. */
export interface GenerationGroup {
  keys: string[];
  positions: number[];
}

/** As readResponse-n.lua answers: the stored value (header and body), or a miss with the generations in force. */
export type ResponseReply = Buffer | [0, ...Array<Buffer | string>];

export async function readResponseAcrossSlots(
  redis: Cluster & CacheScripts,
  keys: RedisKeys,
  responseKey: string,
  groups: readonly GenerationGroup[],
  token: string,
): Promise<ResponseReply> {
  const [stored, ...generationReplies] = await Promise.all([
    redis.getBuffer(responseKey),
    ...groups.map((group) => redis.readGenerations(group.keys.length, ...group.keys, token) as Promise<string[]>),
  ]);
  const generations: string[] = [];
  groups.forEach((group, index) => group.positions.forEach((position, within) => (generations[position] = String(generationReplies[index]![within]))));
  const miss: ResponseReply = [0, ...generations];
  if (!stored) return miss;

  const decoded = decodeStoredResponse(stored);
  if (!decoded) return miss;
  const recorded = parseHeader(decoded.header);
  if (!recorded) return miss;
  const checks: Array<Promise<unknown>> = [];
  for (const { slot, generation, digest, typeKey, keyIds } of recorded) {
    // Only what moved is checked further.
    if (generations[slot] === generation) continue;
    checks.push(redis.checkResponseVersions(1, keys.cacheVersions(typeKey), `${digest}|${typeKey}|${keyIds.join(',')}`));
  }
  const verdicts = await Promise.all(checks);
  return verdicts.every((verdict) => verdict === 1) ? stored : miss;
}
