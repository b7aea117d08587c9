// Lets a mutation return once its own event is out, so its caller reads its write on any replica.
// Whichever replica's relay publishes the row, the publish script announces the outbox id on one
// pub/sub channel, which every replica hears on its subscriber connection.
import type Redis from 'ioredis';

/** Announcements remembered, for a waiter that starts after its announcement arrived. */
const RECENT_LIMIT = 10_000;

export class PublishWaiters {
  private readonly waiters = new Map<number, Array<() => void>>();
  private readonly recent = new Set<number>();

  constructor(
    private readonly subscriber: Redis,
    private readonly channel: string,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', this.onMessage);
    await this.subscriber.subscribe(this.channel);
  }

  async stop(): Promise<void> {
    this.subscriber.off('message', this.onMessage);
    for (const resolvers of this.waiters.values()) for (const resolve of resolvers) resolve();
    this.waiters.clear();
  }

  /**
   * Resolves true once the row is published, or false after `timeoutMs` (Redis down or the relay
   * behind: the row is committed and will be published; the caller returns anyway).
   */
  waitForPublished(outboxId: number, timeoutMs: number): Promise<boolean> {
    if (this.recent.has(outboxId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (isPublished: boolean) => {
        clearTimeout(timer);
        const resolvers = this.waiters.get(outboxId)?.filter((candidate) => candidate !== onPublished) ?? [];
        if (resolvers.length) this.waiters.set(outboxId, resolvers);
        else this.waiters.delete(outboxId);
        resolve(isPublished);
      };
      const onPublished = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.set(outboxId, [...(this.waiters.get(outboxId) ?? []), onPublished]);
    });
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.channel) return;
    const outboxId = Number(message.split(' ')[0]);
    this.recent.add(outboxId);
    if (this.recent.size > RECENT_LIMIT) this.recent.delete(this.recent.values().next().value!);
    for (const resolve of this.waiters.get(outboxId) ?? []) resolve();
  };
}
