// One subscriber's events: live pub/sub messages merged with a replay of the stream, so the
// subscriber gets every event after its cursor exactly once, in stream order. While a replay runs
// (at the start, and again after the replica's subscriber connection came back) live messages
// are held back; afterwards only events newer than the last one seen pass. Events queue here
// until the websocket takes them; a subscriber that lets more than `maxQueuedEvents` pile up is
// cut off (onOverflow) instead of growing the replica's memory.
import { GraphQLError } from 'graphql';
import { backoffMs } from '../backoff';
import { LostStreamDataError, type StreamEvent } from './stream-replay';
import { compareStreamIds } from './stream-ids';

/** Backoff between attempts of a catch-up whose replay failed for want of Redis. */
const RETRY_BACKOFF = { firstMs: 200, maxMs: 2000 };

export interface EventFeedOptions {
  /** Whether this subscriber may see the event and asked for it. */
  matches(event: StreamEvent): boolean;
  /** Replays the stream after an id through `visit`; resolves to the last id read. */
  replayAfter(afterId: string, visit: (event: StreamEvent) => void): Promise<string>;
  maxQueuedEvents: number;
  /** Called for every event the subscriber takes. */
  onDelivered(): void;
  /** Called once when the queue bound is hit; the feed has ended by then. */
  onOverflow(): void;
  /** Called once when the feed ends for any reason (unsubscribe, error, overflow). */
  onEnd(): void;
  /**
   * Catch-up attempts that may find the stream behind the last id seen (Redis lost its newest
   * events) before the feed ends with CURSOR_EXPIRED: worth more than 1 only where the relay
   * publishes lost events again (on Sentinel); 10 is about 15 s of backoff. @default 1
   */
  lostDataAttempts?: number;
}

type Waiter = { resolve(result: IteratorResult<StreamEvent>): void; reject(error: unknown): void };

export class EventFeed implements AsyncIterableIterator<StreamEvent> {
  private readonly queue: StreamEvent[] = [];
  private waiter: Waiter | undefined;
  /** Live messages held back while a replay runs; null when live messages flow straight through. */
  private heldBack: StreamEvent[] | null = [];
  /** The newest stream id this feed has passed on or skipped; older messages are duplicates. */
  private lastId = '';
  private replays: Promise<void> = Promise.resolve();
  private failure: unknown;
  /** Replayed events still queued; only live ones count against maxQueuedEvents (see pass). */
  private replayedQueued = 0;
  private isEnded = false;

  constructor(private readonly options: EventFeedOptions) {}

  get hasEnded(): boolean {
    return this.isEnded;
  }

  /** Events queued and not yet taken by the subscriber. */
  get queuedCount(): number {
    return this.queue.length;
  }

  /** A message from the live channel. */
  readonly onLive = (event: StreamEvent): void => {
    if (this.isEnded) return;
    if (!this.heldBack) {
      this.pass(event);
      return;
    }
    this.heldBack.push(event);
    if (this.heldBack.length > this.options.maxQueuedEvents) this.overflow();
  };

  /**
   * Starts after `afterId`: replays what came since, then lets live messages through. Rejects
   * when the replay fails (CURSOR_EXPIRED, Redis unreachable): the subscription does not start.
   */
  start(afterId: string): Promise<void> {
    this.lastId = afterId;
    const started = this.replays.then(() => this.replay());
    this.replays = started.catch(() => undefined);
    return started;
  }

  /** The live channel may have dropped messages (subscriber connection lost): hold live ones back. */
  holdLive(): void {
    this.heldBack ??= [];
  }

  /**
   * Replays the stream after the last id seen, then releases the held-back live messages. Runs one
   * at a time. Redis being unreachable is retried with backoff (live messages stay held back, up
   * to the queue bound), and so is a stream behind the last id seen, for a while (a failover lost
   * its newest events; the relay publishes them again); an error meant for the client
   * (CURSOR_EXPIRED: the events after the last one seen were trimmed meanwhile) ends the feed with it.
   */
  catchUp(): Promise<void> {
    this.heldBack ??= [];
    this.replays = this.replays.then(async () => {
      for (let attempt = 1; !this.isEnded; attempt += 1) {
        try {
          await this.replay();
          return;
        } catch (error) {
          const mayBeRestored = error instanceof LostStreamDataError && attempt < (this.options.lostDataAttempts ?? 1);
          if (error instanceof GraphQLError && !mayBeRestored) {
            this.fail(error);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, RETRY_BACKOFF)).unref());
        }
      }
    });
    return this.replays;
  }

  next(): Promise<IteratorResult<StreamEvent>> {
    const event = this.queue.shift();
    if (event) {
      if (event.isReplayed) this.replayedQueued -= 1;
      this.options.onDelivered();
      return Promise.resolve({ value: event, done: false });
    }
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      return Promise.reject(failure);
    }
    if (this.isEnded) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<StreamEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<StreamEvent>> {
    this.end();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the feed with an error the subscriber receives after the events already queued. */
  fail(error: unknown): void {
    if (this.isEnded) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter.reject(error);
    else this.failure = error;
    this.end();
  }

  /** Replays after the last id seen, then releases the live messages held back meanwhile. */
  private async replay(): Promise<void> {
    const lastRead = await this.options.replayAfter(this.lastId, (event) => this.pass(event));
    // Entries without a readable event are skipped by the replay but still lie behind us.
    if (compareStreamIds(lastRead, this.lastId) > 0) this.lastId = lastRead;
    const held = this.heldBack ?? [];
    this.heldBack = null;
    for (const event of held) this.pass(event);
  }

  private overflow(): void {
    this.queue.length = 0;
    this.replayedQueued = 0;
    this.end();
    this.options.onOverflow();
  }

  private pass(event: StreamEvent): void {
    if (this.isEnded || compareStreamIds(event.cursor, this.lastId) <= 0) return;
    this.lastId = event.cursor;
    if (!this.options.matches(event)) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      this.options.onDelivered();
      waiter.resolve({ value: event, done: false });
      return;
    }
    this.queue.push(event);
    // A replay is bounded already (maxReplayEntries), and a client resuming after a 4100 is by
    // definition more than maxQueuedEvents behind: counting its replay would close it again.
    if (event.isReplayed) this.replayedQueued += 1;
    else if (this.queue.length - this.replayedQueued > this.options.maxQueuedEvents) this.overflow();
  }

  private end(): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.heldBack = null;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
    this.options.onEnd();
  }
}
