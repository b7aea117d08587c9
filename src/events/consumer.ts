// The consumer-group runner: one per (stream, group) in a worker process. Several processes in one
// group share a stream's entries; each entry is acknowledged only after its handler's effect
// committed, so delivery is at least once and handlers are idempotent (see src/projections).
//
// One loop per runner, never throwing (BullMQ style): XAUTOCLAIM entries that another consumer
// left idle (it crashed, or its handler failed), then XREADGROUP new ones, blocking at most until
// the next claim is due. A handler that fails leaves its entry pending; the next claim after
// `claimIdleMs` delivers it again; on its `maxDeliveries`-th failed delivery it goes to the
// dead-letter stream with the error, and is acknowledged.
//
// A projection that can apply many events at once (one transaction, one round trip) gives a
// `batchHandler`: the runner hands it each batch read, and acknowledges the batch with one XACK.
// If the batch as a whole fails, its events go through `handler` one at a time, so a bad event
// fails (and is retried, then dead-lettered) alone, exactly as without a batch handler.
//
// Each event is handled in a `process <group>` span continuing the trace its envelope carries
// (event-trace.ts), so one trace runs from the mutation to every projection it fed.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { isCluster, serverFor, type RedisClient } from '../redis/client';
import { backoffMs } from '../backoff';
import { describeError } from '../errors';
import { fieldsOf, isOfAnotherDatabase, parseStreamEntry, type RawStreamEntry } from './consumer-entry';
import type { DomainEvent } from './event-types';
import { ProcessSpans } from './event-trace';
import { loggableError } from '../loggable-error';

export interface DeliveryInfo {
  /** The stream entry id, e.g. "1732391702118-0". */
  streamId: string;
  /** 1 on the first delivery; more once the entry has been claimed after a failure or a crash. */
  deliveries: number;
}

/** Applies one event; resolves only once its effect is committed (the entry is acknowledged then). */
export type EventHandler = (event: DomainEvent, delivery: DeliveryInfo) => Promise<void>;

export interface BatchEntry {
  event: DomainEvent;
  delivery: DeliveryInfo;
}

/**
 * Applies several events at once, idempotently like an EventHandler. Keeps DataLoader's contract:
 * resolves, once the effects are committed, with one slot per entry in the same order: null when
 * the event was applied (or needs nothing), its Error when it was not. Rejecting says that nothing
 * was applied that a retry could not skip: the runner then hands the entries to the EventHandler
 * one at a time.
 */
export type BatchEventHandler = (entries: readonly BatchEntry[]) => Promise<Array<Error | null>>;

export interface ConsumerGroupOptions {
  /** Commands (group creation, XACK, XAUTOCLAIM, XPENDING, dead-lettering); may be shared by runners. */
  redis: RedisClient;
  /** This runner's own connection: a blocked XREADGROUP holds its connection, so none is shared. */
  blockingRedis: RedisClient;
  /** The stream's key (`keys.stream(name)`). */
  stream: string;
  /** Where entries go that failed `maxDeliveries` times (`keys.deadLetterStream(name)`). */
  deadLetterStream: string;
  group: string;
  /** Unique per process within the group. */
  consumer: string;
  handler: EventHandler;
  /**
   * The identity of the database the projections write to: entries of another database (and the
   * boundary written when Redis was re-bound) are acknowledged without being handled. @default every entry is handled
   */
  currentDatabase?: () => string;
  /** Applies a whole batch at once; batches of one go to `handler`. @default every event goes to `handler` */
  batchHandler?: BatchEventHandler;
  /**
   * Errors that say a dependency is down (Postgres unreachable, a rebuild holding the projection)
   * rather than that the event is bad: the entry is retried in place, with backoff, without
   * spending a delivery. @default () => false
   */
  isTransient?: (error: unknown) => boolean;
  /** Where a new group starts: "0" for the whole stream, "$" for new entries only. @default "0" */
  startId?: string;
  /** Entries per XREADGROUP and per XAUTOCLAIM. @default 100 */
  batchSize?: number;
  /** Longest wait of one XREADGROUP. @default 5000 */
  blockMs?: number;
  /** An entry pending this long is claimed (from any consumer, this one included). @default 30000 */
  claimIdleMs?: number;
  /** How often to look for idle entries. @default claimIdleMs */
  claimIntervalMs?: number;
  /** Failed deliveries before the entry is dead-lettered. @default 5 */
  maxDeliveries?: number;
  /** Longest pause between retries after a Redis error or a transient handler error. @default 5000 */
  maxRetryDelayMs?: number;
}

export interface EntryFailure extends DeliveryInfo {
  group: string;
  /** Null when the entry held no valid envelope. */
  eventId: string | null;
  error: string;
}

export interface ConsumerGroupEvents {
  /** The loop hit an error (Redis unreachable...) and retries with backoff; or a transient handler error. */
  error: [error: Error];
  /** A handler failed; the entry stays pending and is delivered again after `claimIdleMs`. */
  failed: [failure: EntryFailure];
  /** An entry went to the dead-letter stream (and was acknowledged). */
  deadLettered: [failure: EntryFailure];
  /** Entries were handled and acknowledged. */
  acked: [streamIds: string[]];
  /** The batch handler rejected: the batch's entries are handled one at a time instead. */
  batchFailed: [error: Error, size: number];
}

interface Delivery extends DeliveryInfo {
  fields: string[];
}

interface ReadyDelivery extends Delivery {
  event: DomainEvent;
}

/**
 * handled: acknowledge it with the batch. settled: nothing to acknowledge now (it stays pending for
 * another delivery, or it was acknowledged when dead-lettered). interrupted: stop() came during a
 * retry; leave the rest of the batch pending.
 */
type Outcome = 'handled' | 'settled' | 'interrupted';

const errorMessage = (error: unknown) => describeError(error) || 'unknown error';

export class ConsumerGroupRunner extends EventEmitter<ConsumerGroupEvents> {
  private readonly options: Required<Omit<ConsumerGroupOptions, 'redis' | 'blockingRedis' | 'handler' | 'batchHandler' | 'currentDatabase'>> &
    Pick<ConsumerGroupOptions, 'currentDatabase'>;
  private readonly redis: RedisClient;
  private readonly blockingRedis: RedisClient;
  private readonly handler: EventHandler;
  private readonly batchHandler: BatchEventHandler | undefined;
  private loop: Promise<void> | undefined;
  private isStopping = false;
  private readonly stopSignal = new AbortController();
  private isBlocked = false;
  /** For CLIENT UNBLOCK; read again on the connection itself after each reconnect. */
  private blockingClientId: number | undefined;
  private readonly onBlockingReady = () => (this.blockingClientId = undefined);

  constructor(options: ConsumerGroupOptions) {
    super();
    const claimIdleMs = options.claimIdleMs ?? 30_000;
    this.options = {
      stream: options.stream,
      deadLetterStream: options.deadLetterStream,
      group: options.group,
      consumer: options.consumer,
      isTransient: options.isTransient ?? (() => false),
      currentDatabase: options.currentDatabase,
      startId: options.startId ?? '0',
      batchSize: options.batchSize ?? 100,
      blockMs: Math.max(1, options.blockMs ?? 5000),
      claimIdleMs,
      claimIntervalMs: options.claimIntervalMs ?? claimIdleMs,
      maxDeliveries: options.maxDeliveries ?? 5,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 5000,
    };
    this.redis = options.redis;
    this.blockingRedis = options.blockingRedis;
    this.handler = options.handler;
    this.batchHandler = options.batchHandler;
  }

  /** Creates the group (if new) and starts the loop; rejects only when Redis refuses that. */
  async start(): Promise<void> {
    if (this.loop) return;
    await this.createGroup();
    this.blockingRedis.on('ready', this.onBlockingReady);
    this.loop = this.run().catch((error: unknown) => this.emitError(error));
  }

  /** Lets the current batch finish (its entries acknowledged), then resolves. Safe to call twice. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.isStopping = true;
    this.stopSignal.abort();
    let isDone = false;
    const loop = this.loop.then(() => (isDone = true));
    // A blocked XREADGROUP returns at once on CLIENT UNBLOCK; repeated in case the read was still
    // on its way to Redis when the first one ran.
    while (!isDone) {
      if (this.isBlocked && this.blockingClientId !== undefined) {
        await serverFor(this.redis, this.options.stream)
          .then((server) => server.client('UNBLOCK', this.blockingClientId!))
          .catch(() => undefined);
      }
      await Promise.race([loop, sleep(50)]);
    }
    this.blockingRedis.off('ready', this.onBlockingReady);
  }

  private async run(): Promise<void> {
    const { stream, group, consumer, batchSize, blockMs, claimIntervalMs } = this.options;
    let failures = 0;
    let nextClaimAt = 0;
    while (!this.isStopping) {
      try {
        if (Date.now() >= nextClaimAt) {
          await this.claimIdleEntries();
          nextClaimAt = Date.now() + claimIntervalMs;
        }
        if (this.isStopping) break;
        // On a Cluster the id is of the connection to the stream's master, which a failover changes: asked every time.
        if (isCluster(this.blockingRedis)) this.blockingClientId = undefined;
        this.blockingClientId ??= Number(await (await serverFor(this.blockingRedis, stream)).client('ID'));
        this.isBlocked = true;
        let reply: Array<[string, RawStreamEntry[]]> | null;
        try {
          reply = (await this.blockingRedis.xreadgroup(
            'GROUP', group, consumer,
            'COUNT', batchSize,
            'BLOCK', Math.max(1, Math.min(blockMs, nextClaimAt - Date.now())),
            'STREAMS', stream, '>',
          )) as Array<[string, RawStreamEntry[]]> | null;
        } finally {
          this.isBlocked = false;
        }
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length > 0) {
          await this.handleBatch(entries.map(([streamId, fields]) => ({ streamId, fields, deliveries: 1 })));
        }
        failures = 0;
      } catch (error) {
        failures += 1;
        this.emitError(error);
        // The stream was deleted (FLUSHALL, a new Redis): the group goes with it.
        if (/NOGROUP/.test(errorMessage(error))) await this.createGroup().catch(() => undefined);
        await this.pause(backoffMs(failures, { firstMs: 200, maxMs: this.options.maxRetryDelayMs }));
      }
    }
  }

  private async createGroup(): Promise<void> {
    const { stream, group, startId } = this.options;
    try {
      await this.redis.xgroup('CREATE', stream, group, startId, 'MKSTREAM');
    } catch (error) {
      if (!/BUSYGROUP/.test(errorMessage(error))) throw error;
    }
  }

  /** Takes over every entry idle longer than claimIdleMs, a batch at a time, and handles it. */
  private async claimIdleEntries(): Promise<void> {
    const { stream, group, consumer, claimIdleMs, batchSize } = this.options;
    let cursor = '0-0';
    do {
      const [next, claimed] = (await this.redis.xautoclaim(stream, group, consumer, claimIdleMs, cursor, 'COUNT', batchSize)) as [
        string,
        Array<RawStreamEntry | null>,
      ];
      cursor = next;
      const entries = claimed.filter((entry): entry is RawStreamEntry => entry !== null);
      if (entries.length > 0) await this.handleBatch(await this.withDeliveryCounts(entries));
    } while (cursor !== '0-0' && !this.isStopping);
  }

  /** XAUTOCLAIM does not say how often an entry was delivered; XPENDING does (one round trip). */
  private async withDeliveryCounts(entries: RawStreamEntry[]): Promise<Delivery[]> {
    const { stream, group, consumer } = this.options;
    const pipeline = this.redis.pipeline();
    for (const [streamId] of entries) pipeline.xpending(stream, group, streamId, streamId, 1, consumer);
    const replies = (await pipeline.exec()) ?? [];
    const deliveries: Delivery[] = [];
    entries.forEach(([streamId, fields], index) => {
      const [error, pending] = replies[index] ?? [];
      if (error) throw error;
      // Gone from our pending list: its previous owner was only slow, and acknowledged it meanwhile.
      const count = (pending as Array<[string, string, number, number]> | undefined)?.[0]?.[3];
      if (count !== undefined) deliveries.push({ streamId, fields, deliveries: Number(count) });
    });
    return deliveries;
  }

  /**
   * Applies the entries (as one batch when the projection can), then acknowledges the handled ones
   * together. Entries the batch did not apply are handled one at a time, in stream order.
   */
  private async handleBatch(entries: Delivery[]): Promise<void> {
    const handled: string[] = [];
    let spans: ProcessSpans | undefined;
    try {
      const ready: ReadyDelivery[] = [];
      const database = this.options.currentDatabase?.();
      for (const entry of entries) {
        // About data that no longer exists: nothing to apply to this database.
        if (database !== undefined && isOfAnotherDatabase(entry.fields, database)) {
          handled.push(entry.streamId);
          continue;
        }
        const event = await this.screen(entry);
        if (event) ready.push({ ...entry, event });
      }
      spans = new ProcessSpans(this.options.group, this.options.stream, ready);
      const results = await this.applyBatch(ready, spans);
      // Applied by the batch: acknowledged even if stop() interrupts one of the others.
      handled.push(...ready.filter((_, index) => results[index] === null).map((entry) => entry.streamId));
      for (const [index, entry] of ready.entries()) {
        const result = results[index];
        if (result === null) continue;
        // A transient error in the batch (a rebuild holding the projection...) is not waited out
        // once per entry: the entry is tried again at once, and backs off only if it fails again.
        const outcome = await spans.inEntry(index, () => this.handleEntry(entry, result && !this.options.isTransient(result) ? result : undefined));
        if (outcome === 'handled') handled.push(entry.streamId);
        else spans.fail(index, outcome === 'settled' ? 'not applied' : 'interrupted by stop()');
        if (outcome === 'interrupted') break;
      }
    } finally {
      if (handled.length > 0) {
        await this.redis.xack(this.options.stream, this.options.group, ...handled);
        this.emit('acked', handled);
      }
      spans?.end();
    }
  }

  /** The entry's event; or, for an entry that must not be handled, dead-letters it and gives null. */
  private async screen(entry: Delivery): Promise<DomainEvent | null> {
    const parsed = parseStreamEntry(entry.fields);
    if (!parsed.isValid) {
      await this.deadLetter(entry, null, `unreadable entry: ${parsed.reason}`);
      return null;
    }
    if (entry.deliveries > this.options.maxDeliveries) {
      // Its consumer died while handling it, maxDeliveries times: an event that crashes workers.
      const error = `delivered ${entry.deliveries} times without being acknowledged (its consumers stopped while handling it)`;
      await this.deadLetter(entry, parsed.event.id, error);
      return null;
    }
    return parsed.event;
  }

  /**
   * The batch handler's result per entry: null applied, an Error failed; undefined (no slot) when
   * there is no batch handler, a single entry, or the batch failed as a whole.
   */
  private async applyBatch(ready: ReadyDelivery[], spans: ProcessSpans): Promise<Array<Error | null | undefined>> {
    const batchHandler = this.batchHandler;
    if (!batchHandler || ready.length < 2) return [];
    try {
      const results = await spans.inBatch(() => batchHandler(ready.map(({ event, streamId, deliveries }) => ({ event, delivery: { streamId, deliveries } }))));
      if (results.length !== ready.length) throw new Error(`the batch handler gave ${results.length} results for ${ready.length} entries`);
      return results;
    } catch (error) {
      this.emit('batchFailed', error instanceof Error ? error : new Error(errorMessage(error)), ready.length);
      return [];
    }
  }

  /**
   * Handles one event through `handler`, retrying it in place while its error is transient.
   * `failure`: it already failed for good, in its batch; it is not tried again now.
   */
  private async handleEntry(entry: ReadyDelivery, failure?: Error): Promise<Outcome> {
    const { event } = entry;
    let error: unknown = failure;
    if (!failure) {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.handler(event, { streamId: entry.streamId, deliveries: entry.deliveries });
          return 'handled';
        } catch (caught) {
          if (!this.options.isTransient(caught)) {
            error = caught;
            break;
          }
          if (this.isStopping) return 'interrupted';
          this.emitError(caught);
          await this.pause(backoffMs(attempt, { firstMs: 100, maxMs: this.options.maxRetryDelayMs }));
          if (this.isStopping) return 'interrupted';
        }
      }
    }
    // Logged and kept in the dead-letter entry: a failed statement's parameters stay out of both.
    const failed: EntryFailure = { ...this.deliveryOf(entry), eventId: event.id, error: errorMessage(loggableError(error)) };
    if (entry.deliveries >= this.options.maxDeliveries) {
      await this.deadLetter(entry, event.id, failed.error);
    } else {
      this.emit('failed', failed);
    }
    return 'settled';
  }

  /** XADD to the dead-letter stream (the original fields, plus why) and XACK, in one MULTI. */
  private async deadLetter(entry: Delivery, eventId: string | null, error: string): Promise<void> {
    const { stream, deadLetterStream, group, consumer } = this.options;
    const original = fieldsOf(entry.fields);
    const fields = Object.entries({
      ...original,
      error,
      group,
      consumer,
      deliveries: String(entry.deliveries),
      streamId: entry.streamId,
    }).flat();
    const replies = await this.redis.multi().xadd(deadLetterStream, '*', ...fields).xack(stream, group, entry.streamId).exec();
    const failed = replies?.find(([replyError]) => replyError);
    if (!replies || failed) throw failed?.[0] ?? new Error('the dead-letter transaction was discarded');
    this.emit('deadLettered', { ...this.deliveryOf(entry), eventId, error });
  }

  private deliveryOf(entry: Delivery): Pick<EntryFailure, 'group' | 'streamId' | 'deliveries'> {
    return { group: this.options.group, streamId: entry.streamId, deliveries: entry.deliveries };
  }

  /** Waits, or less when stop() is called meanwhile. */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopSignal.signal }).catch(() => undefined);
  }

  /** An 'error' without listeners would throw; a runner never does. */
  private emitError(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error instanceof Error ? error : new Error(errorMessage(error)));
  }
}
