// Replaying a domain stream after a cursor: what a resuming subscriber missed, and what a replica
// missed while its subscriber connection was down. Each page is read together with the stream's
// trim state (one MULTI), so entries trimmed away between pages can never go unnoticed: the
// reader answers CURSOR_EXPIRED instead of silently skipping them.
import type { RedisClient } from '../redis/client';
import { AppError, ErrorCode } from '../errors';
import { isOfAnotherDatabase } from '../events/consumer-entry';
import type { DomainEvent } from '../events/event-types';
import { compareStreamIds, STREAM_START } from './stream-ids';

/** One event as subscribers see it: the envelope and its stream id. */
export interface StreamEvent {
  cursor: string;
  event: DomainEvent;
  /** The identity of the database the event came from (live messages; absent on older ones). */
  database?: string;
  /** Read from the stream by a resume or catch-up, not received live. */
  isReplayed?: boolean;
}

interface StreamState {
  lastGeneratedId: string;
  /** The newest id ever trimmed (0-0 when nothing was). */
  maxDeletedId: string;
  firstEntryId: string | null;
}

const PAGE_SIZE = 1000;

const cursorExpiredMessage = (detail: string) => `The cursor is too old to resume from (${detail}); refetch, then subscribe without \`after\`.`;

export const cursorExpired = (detail: string) => new AppError(ErrorCode.CursorExpired, cursorExpiredMessage(detail));

/**
 * CURSOR_EXPIRED because Redis holds less than the cursor says it had: the stream is gone, or ends
 * before the cursor. After a failover to a replica that had not received the newest events, the
 * relay publishes them again under the same ids (events/failover-recheck.ts), so a feed catching
 * up may wait for that a while before it gives up (event-feed.ts).
 */
export class LostStreamDataError extends AppError {
  constructor(detail: string) {
    super(ErrorCode.CursorExpired, cursorExpiredMessage(detail));
  }
}

function parseStreamState(reply: unknown): StreamState {
  const fields = new Map<string, unknown>();
  const flat = reply as unknown[];
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
  const firstEntry = fields.get('first-entry') as [string, unknown] | null | undefined;
  return {
    lastGeneratedId: String(fields.get('last-generated-id') ?? STREAM_START),
    maxDeletedId: String(fields.get('max-deleted-entry-id') ?? STREAM_START),
    firstEntryId: firstEntry ? firstEntry[0] : null,
  };
}

/**
 * The error saying why entries after `cursor` may be missing from the stream, or null when none can be. Redis 7.0
 * does not always record trims in max-deleted-entry-id, so the first entry and the last generated
 * id are checked as well: a real cursor before the first entry, or before the last generated id
 * of an emptied stream, means entries after it are gone.
 */
function gapAfter(cursor: string, state: StreamState | null): AppError | null {
  if (state === null) return cursor === STREAM_START ? null : new LostStreamDataError('the stream is gone; Redis lost its data');
  if (compareStreamIds(cursor, state.lastGeneratedId) > 0) return new LostStreamDataError('it is newer than the stream; Redis lost its data');
  if (compareStreamIds(cursor, state.maxDeletedId) < 0) return cursorExpired('the events after it were trimmed from the stream');
  if (cursor === STREAM_START) return null;
  const oldestKept = state.firstEntryId;
  if (oldestKept === null ? compareStreamIds(cursor, state.lastGeneratedId) < 0 : compareStreamIds(cursor, oldestKept) < 0) {
    return cursorExpired('the events after it are no longer in the stream');
  }
  return null;
}

function toStreamEvent(id: string, fields: string[]): StreamEvent | null {
  const index = fields.lastIndexOf('event');
  if (index < 0 || index % 2 !== 0) return null;
  try {
    return { cursor: id, event: JSON.parse(fields[index + 1]!) as DomainEvent, isReplayed: true };
  } catch {
    return null;
  }
}

/** The id of the newest entry ever added to the stream (0-0 when it does not exist): "now". */
export async function streamTail(redis: RedisClient, streamKey: string): Promise<string> {
  const [newest] = (await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  // XREVRANGE, not XINFO: the newest entry is the tail unless it was deleted, which we never do.
  return newest ? newest[0] : STREAM_START;
}

/**
 * Rejects with CURSOR_EXPIRED a client's cursor that is an event of another database than
 * `database`: the data was replaced since (a reseed, a restore), and resuming would mix histories.
 */
export async function assertCursorOfDatabase(redis: RedisClient, streamKey: string, cursor: string, database: string): Promise<void> {
  const [entry] = (await redis.xrange(streamKey, cursor, cursor)) as Array<[string, string[]]>;
  if (entry && isOfAnotherDatabase(entry[1], database)) throw cursorExpired('it is from the data the database had before it was replaced');
}

/**
 * Calls `visit` with every entry after `afterId`, in order, and resolves to the id of the last one
 * (afterId when there were none). At most `maxEntries` are read: a subscriber further behind than
 * that gets CURSOR_EXPIRED, as does one whose entries were trimmed. Entries of other databases
 * than `database` (the identity in force; another database sharing this Redis, a boundary written
 * by adoptDatabase-n.lua) are not this subscriber's: they are passed over.
 */
export async function replayStreamAfter(
  redis: RedisClient,
  streamKey: string,
  afterId: string,
  maxEntries: number,
  database: string,
  visit: (event: StreamEvent) => void,
): Promise<string> {
  let lastId = afterId;
  let read = 0;
  for (;;) {
    const results = await redis.multi().xinfo('STREAM', streamKey).xrange(streamKey, `(${lastId}`, '+', 'COUNT', PAGE_SIZE).exec();
    const [infoError, info] = results?.[0] ?? [new Error('MULTI was discarded')];
    const [rangeError, range] = results?.[1] ?? [new Error('MULTI was discarded')];
    if (rangeError) throw rangeError;
    // XINFO on a stream that does not exist is an error; that state is a "missing stream".
    if (infoError && !/no such key/i.test(infoError.message)) throw infoError;
    const state = infoError ? null : parseStreamState(info);
    const gap = gapAfter(lastId, state);
    if (gap) throw gap;
    const entries = range as Array<[string, string[]]>;
    if (read + entries.length > maxEntries) throw cursorExpired(`more than ${maxEntries} events happened since`);
    read += entries.length;
    for (const [id, fields] of entries) {
      lastId = id;
      const event = isOfAnotherDatabase(fields, database) ? null : toStreamEvent(id, fields);
      if (event) visit(event);
    }
    if (entries.length < PAGE_SIZE) return lastId;
  }
}
