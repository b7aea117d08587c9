// Gap detection of a replay, against a fake stream: the replay must read every entry after the
// cursor exactly once, page by page, and answer CURSOR_EXPIRED whenever entries after it may be
// gone (trimmed, lost with Redis's data, or too many) instead of silently skipping them.
import type { RedisClient } from '../../src/redis/client';
import { ErrorCode } from '../../src/errors';
import { replayStreamAfter, streamTail, type StreamEvent } from '../../src/subscriptions/stream-replay';
import { compareStreamIds } from '../../src/subscriptions/stream-ids';

const DATABASE = 'db-1';
const PAGE_SIZE = 1000;

type Entry = [id: string, fields: string[]];

/** A Redis stream as XINFO STREAM and XRANGE see it; tests change its trim state between pages. */
class FakeStream {
  entries: Entry[] = [];
  lastGeneratedId = '0-0';
  maxDeletedId = '0-0';
  exists = true;
  /** Every XRANGE start argument, in order. */
  readonly rangeStarts: string[] = [];
  /** Runs before each MULTI is answered (e.g. to trim between pages). */
  beforeExec: (page: number) => void = () => undefined;
  infoError: Error | null = null;
  rangeError: Error | null = null;

  add(id: string, fields: string[] = eventFields(id)): void {
    this.entries.push([id, fields]);
    this.lastGeneratedId = id;
  }

  trimTo(firstKeptId: string): void {
    const removed = this.entries.filter(([id]) => compareStreamIds(id, firstKeptId) < 0);
    if (removed.length > 0) this.maxDeletedId = removed[removed.length - 1]![0];
    this.entries = this.entries.filter(([id]) => compareStreamIds(id, firstKeptId) >= 0);
  }

  asRedis(): RedisClient {
    return {
      multi: () => {
        let rangeArgs: string[] = [];
        const chain = {
          xinfo: () => chain,
          xrange: (...args: string[]) => {
            rangeArgs = args;
            return chain;
          },
          exec: async () => {
            this.beforeExec(this.rangeStarts.length);
            this.rangeStarts.push(rangeArgs[1]!);
            return [this.info(), this.range(rangeArgs)];
          },
        };
        return chain;
      },
      xrevrange: async () => (this.entries.length > 0 ? [this.entries[this.entries.length - 1]] : []),
    } as unknown as RedisClient;
  }

  private info(): [Error | null, unknown] {
    if (this.infoError) return [this.infoError, null];
    if (!this.exists) return [new Error('ERR no such key'), null];
    const first = this.entries[0] ?? null;
    return [null, ['length', this.entries.length, 'last-generated-id', this.lastGeneratedId, 'max-deleted-entry-id', this.maxDeletedId, 'first-entry', first]];
  }

  private range([, start, , , count]: string[]): [Error | null, unknown] {
    if (this.rangeError) return [this.rangeError, null];
    const after = start!.slice(1); // "(<id>": exclusive
    expect(start!.startsWith('(')).toBe(true);
    return [null, this.entries.filter(([id]) => compareStreamIds(id, after) > 0).slice(0, Number(count))];
  }
}

function eventFields(id: string, database = DATABASE): string[] {
  const event = { id: '00000000-0000-4000-8000-000000000000', type: 'OrderPaid', version: 1, occurredAt: '2026-01-01T00:00:00.000Z', aggregate: { type: 'Order', id: id }, data: { orderId: 1, userId: 1, status: 'PAID' } };
  return ['database', database, 'type', 'OrderPaid', 'event', JSON.stringify(event)];
}

async function replay(stream: FakeStream, afterId: string, maxEntries = 10_000) {
  const visited: StreamEvent[] = [];
  const lastId = await replayStreamAfter(stream.asRedis(), 'sg:{events}:stream:orders', afterId, maxEntries, DATABASE, (event) => visited.push(event));
  return { lastId, cursors: visited.map((event) => event.cursor), visited };
}

const cursorExpired = expect.objectContaining({ extensions: expect.objectContaining({ code: ErrorCode.CursorExpired }) });

describe('replayStreamAfter', () => {
  it('visits exactly the entries after the cursor, in order, marked as replayed, and resolves to the last id', async () => {
    const stream = new FakeStream();
    for (let seq = 0; seq < 5; seq += 1) stream.add(`100-${seq}`);
    const { lastId, cursors, visited } = await replay(stream, '100-1');
    expect(cursors).toEqual(['100-2', '100-3', '100-4']);
    expect(lastId).toBe('100-4');
    expect(visited.every((event) => event.isReplayed === true)).toBe(true);
    expect(visited[0]!.event.aggregate.id).toBe('100-2');
  });

  it('resolves to the cursor itself when nothing came after it', async () => {
    const stream = new FakeStream();
    stream.add('100-0');
    await expect(replay(stream, '100-0')).resolves.toEqual(expect.objectContaining({ lastId: '100-0', cursors: [] }));
  });

  it('pages through a long stream, each page starting after the previous page (no entry twice, none skipped)', async () => {
    const stream = new FakeStream();
    for (let i = 1; i <= 2 * PAGE_SIZE + 500; i += 1) stream.add(`${i}-0`);
    const { cursors, lastId } = await replay(stream, '0-0');
    expect(cursors).toHaveLength(2 * PAGE_SIZE + 500);
    expect(new Set(cursors).size).toBe(cursors.length);
    expect(lastId).toBe(`${2 * PAGE_SIZE + 500}-0`);
    expect(stream.rangeStarts).toEqual(['(0-0', `(${PAGE_SIZE}-0`, `(${2 * PAGE_SIZE}-0`]);
  });

  it('answers CURSOR_EXPIRED when entries after the cursor were trimmed', async () => {
    const stream = new FakeStream();
    for (let i = 1; i <= 10; i += 1) stream.add(`${i}-0`);
    stream.trimTo('6-0');
    await expect(replay(stream, '3-0')).rejects.toEqual(cursorExpired);
    await expect(replay(stream, '6-0')).resolves.toEqual(expect.objectContaining({ cursors: ['7-0', '8-0', '9-0', '10-0'] }));
    // Even the newest trimmed entry is refused, though nothing after it is missing: before the
    // first entry is all the check can see when Redis 7.0 did not record the trim (conservative).
    await expect(replay(stream, '5-0')).rejects.toEqual(cursorExpired);
  });

  it('answers CURSOR_EXPIRED when an entry after the cursor was deleted from the middle of the stream (XDEL)', async () => {
    const stream = new FakeStream();
    for (let i = 1; i <= 10; i += 1) stream.add(`${i}-0`);
    stream.entries = stream.entries.filter(([id]) => id !== '7-0');
    stream.maxDeletedId = '7-0';
    await expect(replay(stream, '3-0')).rejects.toEqual(cursorExpired);
    await expect(replay(stream, '7-0')).resolves.toEqual(expect.objectContaining({ cursors: ['8-0', '9-0', '10-0'] }));
  });

  it('answers CURSOR_EXPIRED for a cursor before the first entry even when the trim was not recorded (Redis 7.0)', async () => {
    const stream = new FakeStream();
    for (let i = 1; i <= 10; i += 1) stream.add(`${i}-0`);
    stream.entries = stream.entries.slice(5); // max-deleted-entry-id stays 0-0
    await expect(replay(stream, '3-0')).rejects.toEqual(cursorExpired);
  });

  it('answers CURSOR_EXPIRED for a cursor before the last generated id of an emptied stream', async () => {
    const stream = new FakeStream();
    for (let i = 1; i <= 3; i += 1) stream.add(`${i}-0`);
    stream.entries = [];
    await expect(replay(stream, '2-0')).rejects.toEqual(cursorExpired);
    await expect(replay(stream, '3-0')).resolves.toEqual(expect.objectContaining({ lastId: '3-0', cursors: [] }));
  });

  it('answers CURSOR_EXPIRED for a cursor newer than anything the stream generated (Redis lost its data)', async () => {
    const stream = new FakeStream();
    stream.add('5-0');
    await expect(replay(stream, '5-1')).rejects.toEqual(cursorExpired);
  });

  it('treats a missing stream as empty for STREAM_START and as lost data for any real cursor', async () => {
    const stream = new FakeStream();
    stream.exists = false;
    await expect(replay(stream, '0-0')).resolves.toEqual(expect.objectContaining({ lastId: '0-0', cursors: [] }));
    await expect(replay(stream, '7-0')).rejects.toEqual(cursorExpired);
  });

  it('notices entries trimmed between two pages', async () => {
    const stream = new FakeStream();
    for (let i = 1; i <= 3 * PAGE_SIZE; i += 1) stream.add(`${i}-0`);
    // After the first page was read, a trim removes entries the replay has not read yet.
    stream.beforeExec = (page) => {
      if (page === 1) stream.trimTo(`${PAGE_SIZE + 10}-0`);
    };
    await expect(replay(stream, '0-0')).rejects.toEqual(cursorExpired);
  });

  it('answers CURSOR_EXPIRED once more than maxEntries entries follow the cursor, and accepts exactly maxEntries', async () => {
    const stream = new FakeStream();
    for (let i = 1; i <= 50; i += 1) stream.add(`${i}-0`);
    await expect(replay(stream, '0-0', 49)).rejects.toEqual(cursorExpired);
    await expect(replay(stream, '0-0', 50)).resolves.toEqual(expect.objectContaining({ lastId: '50-0' }));
  });

  it("passes over other databases' entries and unreadable ones, but still moves past them", async () => {
    const stream = new FakeStream();
    stream.add('1-0');
    stream.add('2-0', eventFields('2-0', 'db-other'));
    stream.add('3-0', ['database', DATABASE, 'type', 'DatabaseReplaced']);
    stream.add('4-0', ['database', DATABASE, 'event', '{not json']);
    stream.add('5-0', ['database', DATABASE]);
    stream.add('6-0');
    const { cursors, lastId } = await replay(stream, '0-0');
    expect(cursors).toEqual(['1-0', '6-0']);
    expect(lastId).toBe('6-0');
  });

  it('passes Redis errors on (the caller retries) instead of reporting an empty replay', async () => {
    const stream = new FakeStream();
    stream.add('1-0');
    stream.rangeError = new Error('READONLY');
    await expect(replay(stream, '0-0')).rejects.toThrow('READONLY');
    stream.rangeError = null;
    stream.infoError = new Error('LOADING Redis is loading the dataset in memory');
    await expect(replay(stream, '0-0')).rejects.toThrow('LOADING');
  });
});

describe('streamTail', () => {
  it('is the newest entry, or STREAM_START for an empty stream', async () => {
    const stream = new FakeStream();
    await expect(streamTail(stream.asRedis(), 'k')).resolves.toBe('0-0');
    stream.add('9-3');
    await expect(streamTail(stream.asRedis(), 'k')).resolves.toBe('9-3');
  });
});
