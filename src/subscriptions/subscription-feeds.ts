// Every GraphQL subscription of this replica is an EventFeed on one narrow pub/sub channel, all
// sharing the replica's one subscriber connection through graphql-redis-subscriptions'
// RedisPubSub (one SUBSCRIBE per channel however many local subscribers it has). When that
// connection drops, messages published meanwhile are lost to pub/sub but not to the streams: every
// feed holds live messages back and, once ioredis has subscribed again, replays its stream from
// the last event it saw. Subscribers notice nothing but a delay.
import { GraphQLError } from 'graphql';
import type { RedisPubSub } from 'graphql-redis-subscriptions';
import type { RedisClient, RedisSubscriber } from '../redis/client';
import type { StreamName } from '../events/event-types';
import type { SubscriptionChannel } from '../events/subscription-channels';
import type { RedisKeys } from '../redis/keys';
import { watchSubscriberReconnects } from '../redis/subscriber-reconnects';
import { AppError, ErrorCode } from '../errors';
import { EventFeed } from './event-feed';
import { ReplayBudget } from './replay-budget';
import { assertCursorOfDatabase, replayStreamAfter, streamTail, type StreamEvent } from './stream-replay';

/**
 * The websocket a feed belongs to: resumes are budgeted per socket, and a slow consumer's is handed
 * to onSlowConsumer (the websocket layer closes it).
 */
export interface SubscriberSocket {
  close(code: number, reason: string): void;
}

export interface SubscriptionFeedsOptions {
  pubSub: RedisPubSub;
  /** The replica's subscriber connection (the one pubSub uses). */
  subscriber: RedisSubscriber;
  /** Reads the streams (XRANGE, XINFO); a connection that is not in subscriber mode. */
  redis: RedisClient;
  keys: RedisKeys;
  /** The database identity in force: a replay across a change of database is CURSOR_EXPIRED. */
  currentDatabase(): string;
  /** Most stream entries one replay reads; further behind is CURSOR_EXPIRED. @default 10000 */
  maxReplayEntries?: number;
  /** Most events queued for one subscriber before its feed ends and onSlowConsumer hears of it. @default 1000 */
  maxQueuedEvents?: number;
  /** See EventFeedOptions.lostDataAttempts. @default 1 */
  lostDataAttempts?: number;
  /** Hears of each subscriber cut off for not reading (maxQueuedEvents queued), with its socket. @default none */
  onSlowConsumer?(socket: SubscriberSocket, maxQueuedEvents: number): void;
  /** Stream entries the resumes of one socket may replay per window (see ReplayBudget). @default 20000 */
  replayBudgetEntries?: number;
  /** @default 60000 */
  replayBudgetWindowMs?: number;
  /**
   * A client's cost budget (shared by its sockets and replicas, and by its queries), so a client
   * that spreads resumes over many sockets still pays for every replayed entry: `admit` rejects
   * with RATE_LIMITED once the budget is spent; `charge` takes what a replay read, afterwards.
   * @default replays are bounded per socket only
   */
  replayBudgetOfClient?: { admit(costSubject: string): Promise<void>; charge(costSubject: string, entries: number): Promise<void> };
  onError?(error: unknown): void;
}

export interface OpenFeedOptions {
  channel: SubscriptionChannel;
  stream: StreamName;
  /** A cursor the client passed (already validated with parseCursor), or null for "from now". */
  after: string | null;
  matches(event: StreamEvent): boolean;
  socket?: SubscriberSocket;
  /** Whose cost budget a resume draws on (costSubject of the viewer or address). */
  costSubject?: string;
}

export class SubscriptionFeeds {
  private readonly feeds = new Set<EventFeed>();
  private readonly maxReplayEntries: number;
  private readonly maxQueuedEvents: number;
  private readonly replayBudget: ReplayBudget;
  /** The last resume of each socket, which its next one waits for. */
  private readonly resumesInFlight = new WeakMap<SubscriberSocket, Promise<void>>();
  private stopWatchingReconnects: () => void = () => undefined;
  /** Subscribers cut off for not reading, since start. */
  slowConsumerCloses = 0;
  /** Events taken by subscribers, since start. */
  eventsDelivered = 0;

  constructor(private readonly options: SubscriptionFeedsOptions) {
    this.maxReplayEntries = options.maxReplayEntries ?? 10_000;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 1000;
    this.replayBudget = new ReplayBudget({ entriesPerWindow: options.replayBudgetEntries, windowMs: options.replayBudgetWindowMs });
  }

  start(): void {
    this.stopWatchingReconnects = watchSubscriberReconnects(this.options.subscriber, {
      onLost: () => {
        for (const feed of this.feeds) feed.holdLive();
      },
      onBack: () => {
        for (const feed of this.feeds) void feed.catchUp();
      },
      onError: (error) => this.options.onError?.(error),
    });
  }

  stop(): void {
    this.stopWatchingReconnects();
    for (const feed of [...this.feeds]) void feed.return();
  }

  /** Ends every feed with `error` (the database was replaced: what subscribers hold is of the old one). */
  failAll(error: unknown): void {
    for (const feed of [...this.feeds]) feed.fail(error);
  }

  get activeCount(): number {
    return this.feeds.size;
  }

  get queuedCount(): number {
    let queued = 0;
    for (const feed of this.feeds) queued += feed.queuedCount;
    return queued;
  }

  /**
   * Subscribes to the live channel, then replays the stream after the cursor (or from its current
   * end): resolves once the feed is gap-free, or rejects with CURSOR_EXPIRED.
   */
  open(options: OpenFeedOptions): Promise<AsyncIterableIterator<StreamEvent>> {
    const resumingSocket = options.after !== null ? options.socket : undefined;
    if (!resumingSocket) return this.openFeed(options);
    // One resume at a time per socket: resumes run together would all charge the socket's budget
    // entry by entry and all run out midway, none finishing; in turn, the first ones finish and
    // only the rest are refused (and retried by the client from their cursors).
    const previous = this.resumesInFlight.get(resumingSocket) ?? Promise.resolve();
    const opening = previous.then(() => this.openFeed(options));
    this.resumesInFlight.set(
      resumingSocket,
      opening.then(
        () => undefined,
        () => undefined,
      ),
    );
    return opening;
  }

  private async openFeed({ channel, stream, after, matches, socket, costSubject }: OpenFeedOptions): Promise<AsyncIterableIterator<StreamEvent>> {
    const { pubSub, redis, keys } = this.options;
    const streamKey = keys.stream(stream);
    let subscriptionId: number | undefined;
    // The client's own resume is charged to its socket; catch-ups after a lost connection are ours.
    let chargedSocket = after !== null ? socket : undefined;
    if (chargedSocket) this.replayBudget.assertAvailable(chargedSocket);
    const chargedSubject = after !== null ? costSubject : undefined;
    let replayed = 0;
    // A client whose budget is spent replays nothing.
    if (chargedSubject) await this.options.replayBudgetOfClient?.admit(chargedSubject);
    const feed: EventFeed = new EventFeed({
      matches,
      replayAfter: (afterId, visit) =>
        replayStreamAfter(redis, streamKey, afterId, this.maxReplayEntries, this.options.currentDatabase(), (event) => {
          if (chargedSocket) {
            this.replayBudget.charge(chargedSocket);
            replayed += 1;
          }
          visit(event);
        }),
      maxQueuedEvents: this.maxQueuedEvents,
      lostDataAttempts: this.options.lostDataAttempts,
      onDelivered: () => (this.eventsDelivered += 1),
      onOverflow: () => {
        this.slowConsumerCloses += 1;
        if (socket) this.options.onSlowConsumer?.(socket, this.maxQueuedEvents);
      },
      onEnd: () => {
        this.feeds.delete(feed);
        if (subscriptionId !== undefined) unsubscribe(pubSub, subscriptionId);
      },
    });
    this.feeds.add(feed);
    try {
      subscriptionId = await pubSub.subscribe(keys.channel(channel.topic, channel.id), (message: StreamEvent) => {
        // Another database's event (one sharing this Redis, or the old one being replaced) is not this subscriber's.
        if (message.database === undefined || message.database === this.options.currentDatabase()) feed.onLive(message);
      });
      // Unsubscribed while SUBSCRIBE was on its way: onEnd ran before there was an id to release.
      if (feed.hasEnded) unsubscribe(pubSub, subscriptionId);
      if (after !== null) await assertCursorOfDatabase(redis, streamKey, after, this.options.currentDatabase());
      await feed.start(after ?? (await streamTail(redis, streamKey)));
    } catch (error) {
      void feed.return();
      if (error instanceof GraphQLError) throw error;
      this.options.onError?.(error);
      throw new AppError(ErrorCode.ServiceUnavailable, 'Subscriptions cannot start right now (Redis is unreachable); try again shortly.');
    } finally {
      // Only the client's own resume is charged; catch-ups after a lost connection are ours.
      chargedSocket = undefined;
      // Charged after the fact (the replay's length was not known before), even past the budget,
      // and whether the replay finished or not (a cursor too old still read up to the limit): the
      // client's next resume or query is then refused.
      if (chargedSubject) await this.options.replayBudgetOfClient?.charge(chargedSubject, replayed);
    }
    return feed;
  }
}

function unsubscribe(pubSub: RedisPubSub, subscriptionId: number): void {
  try {
    pubSub.unsubscribe(subscriptionId);
  } catch {
    // Already gone (e.g. the subscription never got confirmed); nothing to release.
  }
}
