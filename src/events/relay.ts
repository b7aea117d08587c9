// The outbox relay: publishes committed outbox rows, in id order, pipelined per batch
// (row-publisher.ts): first the cache invalidations of every row (cache/invalidation.ts, on the
// cache's instance), then one publishEvent script per row (stream, subscribers, L1, the waiting
// mutation; on the durable instance). Invalidating first means no subscriber or returning mutation sees an event while a
// cache entry it made stale survives; a crash in between only repeats an invalidation. Exactly one
// relay drains at a time across all replicas: the holder of a Postgres advisory lock; when it dies
// its connection closes, the lock is freed and another replica's relay takes over. A commit wakes
// it at once (NOTIFY); a slow poll is the safety net. If Redis is down the rows stay unpublished
// and the relay retries with backoff; mutations still commit. A Redis that lost acknowledged writes
// (a failover) gets them back first (failover-recheck.ts). Background loops never throw: errors
// are logged and retried.
import { setTimeout as delay } from 'node:timers/promises';
import { and, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { backoffMs } from '../backoff';
import type { Database } from '../db/client';
import { idempotencyKeys, outbox } from '../db/schema';
import type { Logger } from '../logger';
import type { RedisKeys } from '../redis/keys';
import type { CacheScripts, EventScripts } from '../redis/scripts';
import type { RedisClient } from '../redis/client';
import { watchMasterOf } from '../redis/master-changes';
import { OUTBOX_NOTIFY_CHANNEL, outboxRowName } from './outbox';
import { PublicationMarks } from './publication-marks';
import { RowPublisher } from './row-publisher';
import { LostWritesRecovery, isLostWritesError } from './failover-recheck';
import { loggableError } from '../loggable-error';

/** Advisory lock key of the relay (any constant shared by all replicas). */
const RELAY_LOCK_KEY = 7_041_978;
/** Published rows remembered so that their own NOTIFY does not wake the relay again. */
const RECENTLY_PUBLISHED_LIMIT = 1000;

export interface RelayOptions {
  database: Database;
  /** The durable instance (streams, markers, pub/sub). */
  redis: RedisClient & EventScripts;
  /** The cache's instance (may be the same server), where invalidations go. */
  cache: RedisClient & CacheScripts;
  keys: RedisKeys;
  /** The database identity in force; rows of another identity make the relay check it first. */
  identity: { readonly current: string; check(): Promise<void> };
  logger: Logger;
  /** Rows per batch (one pipelined round trip). @default 100 */
  batchSize?: number;
  /** Approximate MAXLEN of each stream. @default 100000 */
  streamMaxLength?: number;
  /** How long published rows stay in Postgres. @default 24 */
  retentionHours?: number;
  /** How long an idempotency key is honoured. @default 24 */
  idempotencyHours?: number;
  /** Safety-net poll while idle, and how often a non-holder tries the lock. @default 1000 */
  pollIntervalMs?: number;
  /** Published-row markers outlive any republish: @default 7 days */
  markerTtlSeconds?: number;
  /** How far back a Redis that lost writes (a failover) is checked for rows to publish again; 0: never. @default 600000 */
  failoverRecheckWindowMs?: number;
  /** Hears each row published (not republished), with when it was committed (for the publish-lag metric). @default none */
  onPublished?(committedAt: Date): void;
}

/**
 * How long the relay keeps the rows of its last batch unmarked while nothing new comes, so that the
 * next batch's statement marks them (a commit at a time, at any steady rate above about 20 a second).
 * A marker in Redis already says they are published: a relay that dies before marking them finds
 * the markers and skips them.
 */
const MARK_LINGER_MS = 50;

export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private isRunning = false;
  private wakeUp: (() => void) | undefined;
  private isWoken = false;
  private loop: Promise<void> | undefined;
  private stopListening: (() => Promise<void>) | undefined;
  private lastPruneMs = 0;
  /** Rows this relay published lately ("<database> <outbox id>", as NOTIFY names them): their NOTIFY, arriving after, wakes nothing. */
  private readonly recentlyPublished = new Set<string>();
  /**
   * Committed rows announced to this holder (by NOTIFY, or by the local commit) and not yet seen by
   * one of its batches, each with the number of the batch that was next when it came: a row
   * announced before a batch's SELECT is in that SELECT's snapshot, so the batch settles it. Without
   * this, the NOTIFY of a row that arrives while its own batch runs would cost one more, empty,
   * SELECT per order.
   */
  private readonly announced = new Map<string, number>();
  private batchNumber = 0;
  /** What this relay published, marked in PostgreSQL with its next batch's read (MARK_LINGER_MS). */
  private readonly marks: PublicationMarks;
  /** Rows found already published (their marker existed) and skipped, since start. */
  skippedRows = 0;

  /** Rows published again because Redis had lost them (a failover), since start. */
  get republishedRows(): number {
    return this.lostWrites.republishedRows;
  }
  /** What Redis acknowledged, and the rows it lost in a failover published again. */
  private readonly lostWrites: LostWritesRecovery;
  private readonly publisher: RowPublisher;
  /** The durable connection came back (maybe to another master): compare before publishing. */
  private isRecheckDue = false;
  private stopWatchingMaster = () => undefined as void;
  /** The master of the event keys may have changed (a reconnect, a failover): check what it lost. */
  private readonly onRedisReady = () => {
    this.isRecheckDue = true;
    this.wake();
  };
  /** True while this replica holds the relay lock (set by the relay only). */
  isLeader = false;

  constructor(private readonly options: RelayOptions) {
    this.batchSize = options.batchSize ?? 100;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.publisher = new RowPublisher(options);
    this.marks = new PublicationMarks(options.database.backgroundDb);
    this.lostWrites = new LostWritesRecovery({
      db: options.database.backgroundDb,
      redis: options.redis,
      keys: options.keys,
      identity: options.identity,
      logger: options.logger,
      windowMs: options.failoverRecheckWindowMs ?? 600_000,
      batchSize: this.batchSize,
      republish: (rows) => this.publisher.publish(rows, { reuseStreamIds: true }),
    });
  }

  async start(): Promise<void> {
    this.isRunning = true;
    this.stopListening = await this.options.database.listen(OUTBOX_NOTIFY_CHANNEL, (payload) => this.announce(payload));
    this.stopWatchingMaster = watchMasterOf(this.options.redis, this.options.keys.databaseIdentity(), this.onRedisReady);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.isRunning = false;
    this.stopWatchingMaster();
    this.wake();
    await this.loop;
    await this.stopListening?.().catch(() => undefined);
  }

  /** Drain now. Only the lock holder drains. */
  wake(): void {
    if (!this.isLeader && this.isRunning) return;
    this.isWoken = true;
    this.wakeUp?.();
  }

  /**
   * A row committed ("<database identity> <outbox id>", as the NOTIFY payload names it): drain
   * unless a batch already took it. The local commit announces its rows at once; the NOTIFY of
   * every commit (on any replica) arrives a little later.
   */
  announce(row: string): void {
    if (!this.isLeader || this.recentlyPublished.has(row) || this.announced.has(row)) return;
    this.announced.set(row, this.batchNumber);
    this.wakeUp?.();
  }

  /** Unpublished rows (the backlog /readyz and /metrics show). */
  async backlog(): Promise<number> {
    const [row] = await this.options.database.backgroundDb
      .select({ count: sql<number>`count(*)::int` })
      .from(outbox)
      .where(isNull(outbox.publishedAt));
    return Number(row?.count ?? 0);
  }

  private async run(): Promise<void> {
    while (this.isRunning) {
      try {
        const lock = await this.options.database.tryAdvisoryLock(RELAY_LOCK_KEY);
        if (!lock) {
          await this.idle(this.pollIntervalMs);
          continue;
        }
        let isLost = false;
        void lock.lost.then(() => (isLost = true));
        this.isLeader = true;
        this.lostWrites.forget();
        try {
          await this.drainWhile(() => this.isRunning && !isLost);
        } finally {
          // Marking rows that were published is right even after the lock was lost.
          await this.marks.markNow().catch(() => undefined);
          this.marks.forget();
          this.isLeader = false;
          this.announced.clear();
          await lock.release().catch(() => undefined);
        }
      } catch (error) {
        this.options.logger.error({ err: loggableError(error) }, 'outbox relay failed; retrying');
        await delay(this.pollIntervalMs);
      }
    }
  }

  private async drainWhile(shouldGoOn: () => boolean): Promise<void> {
    let failures = 0;
    while (shouldGoOn()) {
      this.isWoken = false;
      let published: number;
      try {
        if (this.isRecheckDue) {
          // The re-check finds the rows to publish again by their published_at.
          await this.marks.markNow();
          this.isRecheckDue = false;
          await this.lostWrites.recheckIfBehind().catch((error: unknown) => {
            this.isRecheckDue = true;
            throw error;
          });
        }
        published = await this.publishBatch();
        failures = 0;
      } catch (error) {
        failures += 1;
        const waitMs = backoffMs(failures, { firstMs: 100, maxMs: 5000 });
        this.options.logger.warn({ reason: error instanceof Error ? error.message : String(error), backoffMs: waitMs }, 'outbox relay cannot publish; retrying');
        await delay(waitMs);
        continue;
      }
      if (published === this.batchSize) continue;
      if (await this.lingerBeforeMarking()) continue;
      await this.pruneNowAndThen();
      await this.idle(this.pollIntervalMs);
    }
  }

  /** Publishes the oldest unpublished rows; returns how many. */
  private async publishBatch(): Promise<number> {
    const batch = this.batchNumber++;
    const rows = await this.marks.markThenSelect(this.batchSize);
    this.settleAnnounced(batch);
    if (rows.length === 0) return 0;
    // The rows' own database, read with them: a relay that has not yet noticed a reseed must not
    // publish the new rows against the old database's markers.
    if (rows[0]!.database !== this.options.identity.current) {
      await this.options.identity.check();
      throw new Error(`outbox rows of database ${String(rows[0]!.database)}; this process was still using another one (checked again; retrying)`);
    }
    const acknowledgedId = this.lostWrites.acknowledgedOutboxId();
    const results = await this.publisher.publish(rows, { acknowledgedId });
    if (isLostWritesError(results[0]?.[0])) {
      await this.lostWrites.republishLost(acknowledgedId);
      this.isWoken = true;
      return 0;
    }
    // Mark the rows published up to the first failure; the rest are sent again (a no-op for any
    // that did get through: the script returns their first stream id).
    const published: Array<{ id: number; streamId: string }> = [];
    for (const [index, row] of rows.entries()) {
      const [error, reply] = results[index] ?? [new Error('no reply')];
      if (error) break;
      const [streamId, isNew] = reply as [string, number];
      if (!isNew) this.noteSkipped(row.id, streamId);
      published.push({ id: row.id, streamId: String(streamId) });
    }
    if (published.length > 0) {
      for (const row of published) {
        const name = outboxRowName(rows[0]!.database, row.id);
        this.recentlyPublished.add(name);
        this.announced.delete(name);
      }
      for (const oldest of this.recentlyPublished) {
        if (this.recentlyPublished.size <= RECENTLY_PUBLISHED_LIMIT) break;
        this.recentlyPublished.delete(oldest);
      }
      this.lostWrites.acknowledge(rows[0]!.database, Math.max(acknowledgedId, published.at(-1)!.id));
      this.marks.remember(rows[0]!.database, published);
      if (this.options.onPublished) for (let index = 0; index < published.length; index += 1) this.options.onPublished(rows[index]!.createdAt);
    }
    if (published.length < rows.length) throw results[published.length]?.[0] ?? new Error('publish failed');
    return rows.length;
  }

  /**
   * With rows left to mark, waits MARK_LINGER_MS for more work: true when it came (the next batch
   * marks them), else marks them now and returns false.
   */
  private async lingerBeforeMarking(): Promise<boolean> {
    if (!this.marks.hasUnmarked) return false;
    await this.idle(MARK_LINGER_MS);
    // Stopping: leaving the lock marks them.
    if (!this.isRunning) return false;
    // More work came: the next batch's statement marks them.
    if (this.isWoken || this.announced.size > 0) return true;
    await this.marks.markNow();
    return false;
  }

  /** Forgets the rows announced before `batch` began: its SELECT saw them, published or not. */
  private settleAnnounced(batch: number): void {
    for (const [row, announcedBefore] of this.announced) {
      if (announcedBefore <= batch) this.announced.delete(row);
    }
  }

  /** A row whose marker existed: published before (a relay that died before marking it), or a marker of another history. */
  private noteSkipped(outboxId: number, streamId: string): void {
    this.skippedRows += 1;
    this.options.logger.warn({ outboxId, streamId }, 'outbox row was already published; skipped');
  }

  /** Deletes published rows past their retention, and expired idempotency keys, every few minutes. */
  private async pruneNowAndThen(): Promise<void> {
    if (Date.now() - this.lastPruneMs < 5 * 60_000) return;
    this.lastPruneMs = Date.now();
    const db = this.options.database.backgroundDb;
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);
    await db.delete(outbox).where(and(isNotNull(outbox.publishedAt), lt(outbox.publishedAt, hoursAgo(this.options.retentionHours ?? 24))));
    await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, hoursAgo(this.options.idempotencyHours ?? 24)));
  }

  private async idle(ms: number): Promise<void> {
    if (this.isWoken || this.announced.size > 0 || !this.isRunning) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
  }
}
