// EventFeed merges live pub/sub messages with stream replays. Driven here with a fake replay
// (each call a deferred the test resolves) and plain onLive calls: the order in which the replay
// and live messages arrive is decided by the test, not by timing.
import { GraphQLError } from 'graphql';
import { ErrorCode } from '../../src/errors';
import type { DomainEvent } from '../../src/events/event-types';
import { EventFeed, type EventFeedOptions } from '../../src/subscriptions/event-feed';
import { LostStreamDataError, type StreamEvent } from '../../src/subscriptions/stream-replay';
import { deferred } from '../../src/testing/wait';

function streamEvent(cursor: string, { isReplayed = false, userId = 1 } = {}): StreamEvent {
  const event = { id: cursor, type: 'OrderPaid', version: 1, occurredAt: '', aggregate: { type: 'Order', id: '1' }, data: { orderId: 1, userId, status: 'PAID' } } as unknown as DomainEvent;
  return { cursor, event, isReplayed };
}

/** One call of replayAfter: where it started, and the controls to finish it. */
interface ReplayCall {
  afterId: string;
  /** Replays these (as the stream would), then resolves to the last one (or `lastRead`). */
  finish(cursors: string[], lastRead?: string): void;
  fail(error: unknown): void;
}

function createFeed(overrides: Partial<EventFeedOptions> = {}) {
  const replays: ReplayCall[] = [];
  const counts = { delivered: 0, overflows: 0, ends: 0 };
  const feed = new EventFeed({
    matches: () => true,
    replayAfter: (afterId, visit) => {
      const done = deferred<string>();
      replays.push({
        afterId,
        finish: (cursors, lastRead) => {
          for (const cursor of cursors) visit(streamEvent(cursor, { isReplayed: true }));
          done.resolve(lastRead ?? cursors[cursors.length - 1] ?? afterId);
        },
        fail: (error) => done.reject(error),
      });
      return done.promise;
    },
    maxQueuedEvents: 100,
    onDelivered: () => (counts.delivered += 1),
    onOverflow: () => (counts.overflows += 1),
    onEnd: () => (counts.ends += 1),
    ...overrides,
  });
  return { feed, replays, counts };
}

/** A feed started from `cursor`, its first replay asked for and not yet finished. */
async function startFeed(cursor: string, overrides: Partial<EventFeedOptions> = {}) {
  const created = createFeed(overrides);
  const started = created.feed.start(cursor);
  await settle();
  return { ...created, started };
}

/** Takes every event queued now (never waits for one that is not there). */
async function drain(feed: EventFeed): Promise<string[]> {
  const cursors: string[] = [];
  while (feed.queuedCount > 0) {
    const { value } = await feed.next();
    cursors.push((value as StreamEvent).cursor);
  }
  return cursors;
}

/** Lets the promise chains of the feed (replays run one after another) settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('starting after a cursor', () => {
  it('holds live messages back while the replay runs, then passes them after the replayed ones', async () => {
    const { feed, replays, started } = await startFeed('10-0');
    expect(replays.map((call) => call.afterId)).toEqual(['10-0']);
    feed.onLive(streamEvent('13-0'));
    feed.onLive(streamEvent('14-0'));
    // Nothing is released before the replay is done: a live 13 must not overtake a replayed 11.
    expect(feed.queuedCount).toBe(0);
    replays[0]!.finish(['11-0', '12-0']);
    await started;
    expect(await drain(feed)).toEqual(['11-0', '12-0', '13-0', '14-0']);
  });

  it('delivers an event the replay and the live channel both carried once', async () => {
    const { feed, replays, started } = await startFeed('10-0');
    feed.onLive(streamEvent('12-0'));
    feed.onLive(streamEvent('13-0'));
    replays[0]!.finish(['11-0', '12-0', '13-0']);
    await started;
    feed.onLive(streamEvent('13-0')); // a duplicate publish after the merge
    feed.onLive(streamEvent('14-0'));
    expect(await drain(feed)).toEqual(['11-0', '12-0', '13-0', '14-0']);
  });

  it('drops live messages at or before the cursor (the client has them)', async () => {
    const { feed, replays, started } = await startFeed('10-5');
    feed.onLive(streamEvent('10-4'));
    feed.onLive(streamEvent('10-5'));
    feed.onLive(streamEvent('10-6'));
    replays[0]!.finish([]);
    await started;
    expect(await drain(feed)).toEqual(['10-6']);
  });

  it('orders by stream id, not as strings (live "9-0" after replayed "10-0" is a duplicate)', async () => {
    const { feed, replays, started } = await startFeed('8-0');
    feed.onLive(streamEvent('9-0'));
    feed.onLive(streamEvent('11-0'));
    replays[0]!.finish(['9-0', '10-0']);
    await started;
    expect(await drain(feed)).toEqual(['9-0', '10-0', '11-0']);
  });

  it("counts entries the replay read but did not visit (another database's) as seen", async () => {
    const { feed, replays, started } = await startFeed('10-0');
    feed.onLive(streamEvent('12-0'));
    feed.onLive(streamEvent('13-0'));
    replays[0]!.finish(['11-0'], '12-0');
    await started;
    expect(await drain(feed)).toEqual(['11-0', '13-0']);
  });

  it('passes only events the subscriber matches, yet moves past the others', async () => {
    const { feed, replays, started } = await startFeed('0-0', { matches: (event) => (event.event.data as { userId: number }).userId === 1 });
    replays[0]!.finish([]);
    await started;
    feed.onLive(streamEvent('1-0', { userId: 2 }));
    feed.onLive(streamEvent('2-0'));
    feed.onLive(streamEvent('1-0')); // older than what was already passed over
    expect(await drain(feed)).toEqual(['2-0']);
  });

  it('rejects start, and delivers nothing, when the replay fails (CURSOR_EXPIRED)', async () => {
    const { replays, started } = await startFeed('10-0');
    const expired = new GraphQLError('too old', { extensions: { code: ErrorCode.CursorExpired } });
    replays[0]!.fail(expired);
    await expect(started).rejects.toBe(expired);
  });
});

describe('taking events', () => {
  it('resolves a waiting next() with the next event and counts each delivery once', async () => {
    const { feed, replays, counts, started } = await startFeed('0-0');
    replays[0]!.finish([]);
    await started;
    const waiting = feed.next();
    feed.onLive(streamEvent('1-0'));
    await expect(waiting).resolves.toEqual({ done: false, value: expect.objectContaining({ cursor: '1-0' }) });
    feed.onLive(streamEvent('2-0'));
    await feed.next();
    expect(counts.delivered).toBe(2);
    expect(feed.queuedCount).toBe(0);
  });

  it('ends on return(): a waiting next() is done, later messages are ignored, onEnd runs once', async () => {
    const { feed, replays, counts, started } = await startFeed('0-0');
    replays[0]!.finish([]);
    await started;
    const waiting = feed.next();
    await feed.return();
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    feed.onLive(streamEvent('1-0'));
    await expect(feed.next()).resolves.toEqual({ done: true, value: undefined });
    await feed.return();
    expect(counts.ends).toBe(1);
    expect(feed.hasEnded).toBe(true);
  });

  it('delivers the queued events before the error it failed with, then is done', async () => {
    const { feed, replays, started } = await startFeed('0-0');
    replays[0]!.finish(['1-0']);
    await started;
    const replaced = new GraphQLError('database replaced', { extensions: { code: ErrorCode.CursorExpired } });
    feed.fail(replaced);
    await expect(feed.next()).resolves.toEqual({ done: false, value: expect.objectContaining({ cursor: '1-0' }) });
    await expect(feed.next()).rejects.toBe(replaced);
    await expect(feed.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('rejects a waiting next() at once when it fails', async () => {
    const { feed, replays, started } = await startFeed('0-0');
    replays[0]!.finish([]);
    await started;
    const waiting = feed.next();
    const error = new Error('gone');
    feed.fail(error);
    await expect(waiting).rejects.toBe(error);
  });
});

describe('the queue bound (slow consumers)', () => {
  it('cuts off a subscriber with more than maxQueuedEvents live events waiting: once, with its queue dropped', async () => {
    const { feed, replays, counts, started } = await startFeed('0-0', { maxQueuedEvents: 3 });
    replays[0]!.finish([]);
    await started;
    for (let i = 1; i <= 3; i += 1) feed.onLive(streamEvent(`${i}-0`));
    expect(counts.overflows).toBe(0);
    feed.onLive(streamEvent('4-0'));
    expect(counts.overflows).toBe(1);
    expect(counts.ends).toBe(1);
    expect(feed.queuedCount).toBe(0);
    feed.onLive(streamEvent('5-0'));
    expect(counts.overflows).toBe(1);
    await expect(feed.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('does not count replayed events against the bound (a resume far behind is not closed again)', async () => {
    const { feed, replays, counts, started } = await startFeed('0-0', { maxQueuedEvents: 3 });
    replays[0]!.finish(Array.from({ length: 50 }, (_, i) => `${i + 1}-0`));
    await started;
    expect(counts.overflows).toBe(0);
    for (let i = 51; i <= 53; i += 1) feed.onLive(streamEvent(`${i}-0`));
    expect(counts.overflows).toBe(0);
    feed.onLive(streamEvent('54-0'));
    expect(counts.overflows).toBe(1);
  });

  it('frees the room of a replayed event once it is taken (the count follows the queue)', async () => {
    const { feed, replays, counts, started } = await startFeed('0-0', { maxQueuedEvents: 2 });
    replays[0]!.finish(['1-0', '2-0']);
    await started;
    await drain(feed);
    // Were taken replayed events still counted as replayed, these two live ones would slip by uncounted.
    feed.onLive(streamEvent('3-0'));
    feed.onLive(streamEvent('4-0'));
    expect(counts.overflows).toBe(0);
    feed.onLive(streamEvent('5-0'));
    expect(counts.overflows).toBe(1);
  });

  it('bounds the live messages held back during a replay too', async () => {
    const { feed, counts } = createFeed({ maxQueuedEvents: 3 });
    void feed.start('0-0').catch(() => undefined);
    await settle();
    for (let i = 1; i <= 4; i += 1) feed.onLive(streamEvent(`${i}-0`));
    expect(counts.overflows).toBe(1);
    expect(feed.hasEnded).toBe(true);
  });
});

describe('catching up after the live channel dropped messages', () => {
  async function startedFeed(overrides: Partial<EventFeedOptions> = {}) {
    const created = createFeed(overrides);
    const started = created.feed.start('0-0');
    await settle();
    created.replays[0]!.finish(['1-0']);
    await started;
    return created;
  }

  /** Runs `test` on Jest's fake clock, just after a catch-up's replay failed for want of Redis. */
  async function withFailedCatchUp(
    overrides: Partial<EventFeedOptions>,
    test: (feed: Awaited<ReturnType<typeof startedFeed>> & { caughtUp: Promise<void> }) => Promise<void>,
  ) {
    const created = await startedFeed(overrides);
    jest.useFakeTimers();
    try {
      const caughtUp = created.feed.catchUp();
      await jest.advanceTimersByTimeAsync(0);
      created.replays[1]!.fail(new Error('ECONNREFUSED'));
      await jest.advanceTimersByTimeAsync(0);
      await test({ ...created, caughtUp });
    } finally {
      jest.useRealTimers();
    }
  }

  it('holds live messages from holdLive(), replays from the last event passed, then releases them without duplicates', async () => {
    const { feed, replays } = await startedFeed();
    feed.onLive(streamEvent('2-0'));
    feed.holdLive();
    feed.onLive(streamEvent('6-0')); // arrived after the subscriber connection came back
    const caughtUp = feed.catchUp();
    await settle();
    expect(replays[1]!.afterId).toBe('2-0');
    expect(feed.queuedCount).toBe(2); // 1 and 2; 6 waits for the replay
    replays[1]!.finish(['3-0', '4-0', '5-0', '6-0']);
    await caughtUp;
    expect(await drain(feed)).toEqual(['1-0', '2-0', '3-0', '4-0', '5-0', '6-0']);
  });

  it('runs replays one at a time, each from where the previous one ended', async () => {
    const { feed, replays } = await startedFeed();
    const first = feed.catchUp();
    const second = feed.catchUp();
    await settle();
    expect(replays).toHaveLength(2);
    replays[1]!.finish(['2-0', '3-0']);
    await first;
    await settle();
    expect(replays).toHaveLength(3);
    expect(replays[2]!.afterId).toBe('3-0');
    replays[2]!.finish([]);
    await second;
    expect(await drain(feed)).toEqual(['1-0', '2-0', '3-0']);
  });

  it('retries a replay that failed for want of Redis, with backoff, holding live messages meanwhile', async () => {
    await withFailedCatchUp({}, async ({ feed, replays, caughtUp }) => {
      feed.onLive(streamEvent('4-0'));
      expect(replays).toHaveLength(2);
      // The first retry waits 200 ms (backoff of catch-ups).
      await jest.advanceTimersByTimeAsync(150);
      expect(replays).toHaveLength(2);
      await jest.advanceTimersByTimeAsync(100);
      expect(replays).toHaveLength(3);
      expect(replays[2]!.afterId).toBe('1-0');
      expect(feed.queuedCount).toBe(1); // 4 is still held back
      replays[2]!.finish(['2-0', '3-0']);
      await caughtUp;
      expect(await drain(feed)).toEqual(['1-0', '2-0', '3-0', '4-0']);
    });
  });

  it('waits for a stream behind the cursor to be restored (a failover lost its newest events), then delivers them', async () => {
    await withFailedCatchUp({ lostDataAttempts: 10 }, async ({ feed, replays, caughtUp }) => {
      await jest.advanceTimersByTimeAsync(200);
      replays[2]!.fail(new LostStreamDataError('it is newer than the stream; Redis lost its data'));
      await jest.advanceTimersByTimeAsync(400);
      // The relay published the lost events again: the next replay finds them.
      expect(replays).toHaveLength(4);
      replays[3]!.finish(['2-0', '3-0']);
      await caughtUp;
      expect(await drain(feed)).toEqual(['1-0', '2-0', '3-0']);
    });
  });

  it('ends the feed at once when the stream is behind the cursor and nothing restores lost events (lostDataAttempts 1, standalone)', async () => {
    await withFailedCatchUp({}, async ({ feed, replays, caughtUp }) => {
      const lost = new LostStreamDataError('the stream is gone; Redis lost its data');
      await jest.advanceTimersByTimeAsync(200);
      replays[2]!.fail(lost);
      await caughtUp;
      expect(replays).toHaveLength(3);
      await feed.next();
      await expect(feed.next()).rejects.toBe(lost);
    });
  });

  it('ends the feed with CURSOR_EXPIRED when the stream stays behind the cursor (the 10th catch-up attempt)', async () => {
    await withFailedCatchUp({ lostDataAttempts: 10 }, async ({ feed, replays, caughtUp }) => {
      const lost = new LostStreamDataError('it is newer than the stream; Redis lost its data');
      let isSettled = false;
      void caughtUp.then(() => (isSettled = true));
      while (!isSettled) {
        await jest.advanceTimersByTimeAsync(2000); // the longest backoff
        replays.at(-1)!.fail(lost);
        await jest.advanceTimersByTimeAsync(0);
      }
      // Attempt 1 failed for want of Redis (replays[1]); attempts 2-10 found the stream behind.
      expect(replays).toHaveLength(11);
      await expect(feed.next()).resolves.toEqual(expect.objectContaining({ value: expect.objectContaining({ cursor: '1-0' }) }));
      await expect(feed.next()).rejects.toBe(lost);
    });
  });

  it('ends the feed with an error meant for the client (CURSOR_EXPIRED) instead of retrying', async () => {
    const { feed, replays, counts } = await startedFeed();
    const caughtUp = feed.catchUp();
    await settle();
    const expired = new GraphQLError('trimmed meanwhile', { extensions: { code: ErrorCode.CursorExpired } });
    replays[1]!.fail(expired);
    await caughtUp;
    expect(replays).toHaveLength(2);
    expect(counts.ends).toBe(1);
    await expect(feed.next()).resolves.toEqual(expect.objectContaining({ value: expect.objectContaining({ cursor: '1-0' }) }));
    await expect(feed.next()).rejects.toBe(expired);
  });

  it('stops retrying once the feed has ended', async () => {
    await withFailedCatchUp({}, async ({ feed, replays, caughtUp }) => {
      await feed.return();
      await jest.advanceTimersByTimeAsync(10_000);
      await caughtUp;
      expect(replays).toHaveLength(2);
    });
  });
});
