// Publishes outbox rows to Redis for the relay (relay.ts decides which rows, and when): first the
// invalidation of what they made stale (cache/invalidation.ts), then one publishEvent script per
// row in a pipeline (publishEvent-n.lua: the stream entry, the published marker, the L1 and
// outbox announcements, and the subscription messages). Publishing an event whose stale entries
// survive would break read-your-writes: a failed invalidation throws, and the batch is retried.
//
// On a Redis Cluster a script may only publish to channels of its own slot: the subscription
// channels are spread over the masters (sharded pub/sub), so the script is given none and this
// SPUBLISHes its message to them right after it.
//
// Each row is published in a span of its own (event-trace.ts), and its envelope then carries that
// span's trace context, so consumers continue the mutation's trace under the publish.
import type { OutboxRow } from '../db/schema';
import { invalidate, invalidationMessages, type StaleEntries } from '../cache/invalidation';
import { isCluster, publishCommandOf, type RedisClient } from '../redis/client';
import type { RedisKeys } from '../redis/keys';
import type { CacheScripts, EventScripts } from '../redis/scripts';
import type { DomainEvent } from './event-types';
import { subscriptionChannels } from './subscription-channels';
import { tracePublish } from './event-trace';

export interface RowPublisherOptions {
  /** The durable instance (streams, markers, pub/sub). */
  redis: RedisClient & EventScripts;
  /** The cache's instance (may be the same server), where invalidations go. */
  cache: RedisClient & CacheScripts;
  keys: RedisKeys;
  /** The database identity in force. */
  identity: { readonly current: string };
  /** Approximate MAXLEN of each stream. @default 100000 */
  streamMaxLength?: number;
  /** Published-row markers outlive any republish: @default 7 days */
  markerTtlSeconds?: number;
}

export interface PublishOptions {
  /** The last published outbox id Redis must hold already (LOSTWRITES otherwise); 0: no check. @default 0 */
  acknowledgedId?: number;
  /** Publish each row again under the stream id it first had (a Redis that lost it). @default false */
  reuseStreamIds?: boolean;
}

/** One reply per row, as the pipeline gives them: `[error, [stream id, 1 new | 0 before, message]]`. */
export type PublishResults = Array<[Error | null, unknown]>;

export class RowPublisher {
  constructor(private readonly options: RowPublisherOptions) {}

  publish(rows: OutboxRow[], options: PublishOptions = {}): Promise<PublishResults> {
    return tracePublish(rows, (traced) => this.publishNow(traced, options));
  }

  private async publishNow(rows: OutboxRow[], { acknowledgedId = 0, reuseStreamIds = false }: PublishOptions): Promise<PublishResults> {
    await invalidate(this.options.cache, this.options.keys, rows.flatMap((row) => row.invalidations as StaleEntries[]));
    const pipeline = this.options.redis.pipeline() as unknown as EventScripts & { exec(): Promise<PublishResults | null> };
    for (const row of rows) {
      const keysAndArguments = this.publishArguments(row, acknowledgedId, reuseStreamIds ? row.streamId : null);
      void pipeline.publishEvent(3, ...keysAndArguments);
    }
    const results = (await pipeline.exec()) ?? [];
    if (this.isSharded) await this.publishToShards(rows, results);
    return results;
  }

  /** On a Redis Cluster the channels are not on the stream's slot: publishEvent leaves them to this. */
  private get isSharded(): boolean {
    return isCluster(this.options.redis);
  }

  /**
   * SPUBLISHes each row's message to its subscription channels, in row order, up to the first row
   * that failed (the rest are published again). A row published before (its marker existed) is
   * announced again too: its relay may have died between the script and this; subscribers drop a
   * cursor they have seen.
   */
  private async publishToShards(rows: OutboxRow[], results: PublishResults): Promise<void> {
    const sends: Array<Promise<unknown>> = [];
    for (const [index, row] of rows.entries()) {
      const [error, reply] = results[index] ?? [new Error('no reply')];
      if (error) break;
      const message = String((reply as [string, number, string])[2]);
      for (const channel of this.channelsOf(row)) sends.push(this.options.redis.spublish(channel, message));
    }
    await Promise.all(sends);
  }

  private channelsOf(row: OutboxRow): string[] {
    return subscriptionChannels(row.payload as DomainEvent).map(({ topic, id }) => this.options.keys.channel(topic, id));
  }

  /** The publishEvent call of a row (KEYS, then ARGV: see publishEvent-n.lua); `streamId`: the id to reuse. */
  private publishArguments(row: OutboxRow, acknowledgedId: number, streamId: string | null): Array<string | number> {
    const { keys } = this.options;
    const messages = invalidationMessages(row.invalidations as StaleEntries[]);
    const channels = this.isSharded ? [] : this.channelsOf(row);
    return [
      keys.publishedOutboxRow(row.id),
      keys.stream(row.stream),
      keys.lastPublishedOutboxId(),
      this.options.identity.current,
      this.options.markerTtlSeconds ?? 7 * 24 * 3600,
      this.options.streamMaxLength ?? 100_000,
      keys.cacheInvalidationChannel(),
      keys.outboxPublishedChannel(),
      row.id,
      acknowledgedId,
      streamId ?? '*',
      publishCommandOf(this.options.redis),
      messages.length,
      ...messages,
      channels.length,
      ...channels,
      'eventId',
      row.eventId,
      'type',
      row.type,
      'aggregateType',
      row.aggregateType,
      'aggregateId',
      row.aggregateId,
      'event',
      JSON.stringify(row.payload as DomainEvent),
    ];
  }
}
