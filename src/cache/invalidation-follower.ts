// An in-process copy of what Redis caches (the entity L1, the responses held in memory) is right
// only while it hears every invalidation message. This follows the invalidation channel on the
// replica's subscriber connection and says when the copy may be used: messages sent while the
// connection is away are lost, so the copy is flushed and not used from the drop until the
// connection is back and subscribed again (and flushed once more then: it may have been filled
// from Redis meanwhile, with no message to drop it).
import type { RedisSubscriber } from '../redis/client';
import { watchSubscriberReconnects } from '../redis/subscriber-reconnects';

export interface InvalidationFollowerOptions {
  subscriber: RedisSubscriber;
  channel: string;
  /** Hears every message on the subscriber connection (the caller picks its channels). */
  onMessage(channel: string, message: string): void;
  /** Drops the whole copy. */
  flush(): void;
}

export class InvalidationFollower {
  /** Whether every message is being heard: the copy may be used. */
  isLive = false;
  private stopWatchingReconnects: () => void = () => undefined;

  constructor(private readonly options: InvalidationFollowerOptions) {}

  async start(): Promise<void> {
    const { subscriber, channel, flush } = this.options;
    subscriber.on('message', this.options.onMessage);
    this.stopWatchingReconnects = watchSubscriberReconnects(subscriber, {
      onLost: () => {
        this.isLive = false;
        flush();
      },
      onBack: () => {
        flush();
        this.isLive = subscriber.status === 'ready';
      },
    });
    await subscriber.subscribe(channel);
    this.isLive = subscriber.status === 'ready';
  }

  /** Stops listening (the channel stays subscribed: others may share it) and flushes the copy. */
  stop(): void {
    this.options.subscriber.off('message', this.options.onMessage);
    this.stopWatchingReconnects();
    this.isLive = false;
    this.options.flush();
  }
}
