// Lets a mutation return once its own event is out, so its caller reads its write on any replica.
// Whichever replica's relay publishes the row, the publish script announces it on one pub/sub
// channel, which every replica hears on its subscriber connection. Rows are named by database
// identity and outbox id: after a reseed outbox ids start again at 1, and an announcement of the
// old database's row 1 must not release the new row 1's mutation.
import type { RedisSubscriber } from '../redis/client';

/** Announcements remembered, for a waiter that starts after its announcement arrived. */
const RECENT_LIMIT = 10_000;

const rowName = (database: string, outboxId: number) => `${database} ${outboxId}`;

export class PublishWaiters {
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly recent = new Set<string>();

  constructor(
    private readonly subscriber: RedisSubscriber,
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
  waitForPublished(database: string, outboxId: number, timeoutMs: number): Promise<boolean> {
    const row = rowName(database, outboxId);
    if (this.recent.has(row)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (isPublished: boolean) => {
        clearTimeout(timer);
        const resolvers = this.waiters.get(row)?.filter((candidate) => candidate !== onPublished) ?? [];
        if (resolvers.length) this.waiters.set(row, resolvers);
        else this.waiters.delete(row);
        resolve(isPublished);
      };
      const onPublished = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.set(row, [...(this.waiters.get(row) ?? []), onPublished]);
    });
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.channel) return;
    const [database = '', outboxId = ''] = message.split(' ');
    const row = rowName(database, Number(outboxId));
    this.recent.add(row);
    if (this.recent.size > RECENT_LIMIT) this.recent.delete(this.recent.values().next().value!);
    for (const resolve of this.waiters.get(row) ?? []) resolve();
  };
}
