// Binds what Redis holds to the database it was derived from. The database records its identity
// (src/db/identity.ts); every derived key carries it (src/redis/keys.ts) and every stream entry
// names it. So after a reseed, a restore, or a restart on a fresh embedded database, with Redis
// kept, nothing derived from the old data is used: cache entries, responses, sessions and
// published markers are simply other keys, a cursor into the old history is CURSOR_EXPIRED, and
// the old keys are deleted in the background once it is known they were this database's.
// Several databases may share one Redis and prefix (two developers' gateways): each sees only its
// own keys and entries, and neither undoes the other.
//
// When a process notices: at start; when `seed` commits (NOTIFY); when another process announces
// an identity (pub/sub: each then reads its own database again); when the relay meets outbox rows
// of another identity; and on a poll (PostgreSQL only: a database dropped and recreated, or
// restored, announces nothing). A database restored under its old identity is caught two ways: a
// dump restored into another database keeps the row but not the database's oid, and a backup of
// this one hands out outbox ids below the highest Redis saw published. Either way a new identity
// is minted.
import { publishCommandOf, unlinkMatching, type RedisClient, type RedisSubscriber } from '../redis/client';
import { describeError } from '../errors';
import type { Database } from '../db/client';
import { DATABASE_IDENTITY_CHANNEL, mintDatabaseIdentity, readDatabaseIdentity } from '../db/identity';
import type { Logger } from '../logger';
import { createRedisKeys, type RedisKeys } from '../redis/keys';
import type { EventScripts } from '../redis/scripts';
import { STREAMS } from './event-types';

export interface DatabaseIdentityOptions {
  database: Database;
  /** The durable instance's command connection, with the event scripts. */
  redis: RedisClient & EventScripts;
  /** Connections whose derived keys of an old identity are deleted (the durable one, and the cache's if separate). */
  derivedStateConnections: readonly RedisClient[];
  /** The subscriber connection, to hear other processes announce an identity (none in one-shot tools). */
  subscriber?: RedisSubscriber;
  /** REDIS_PREFIX: derived keys are built under it with each identity. */
  prefix: string;
  logger: Logger;
  /** Approximate MAXLEN of each stream (the boundary entry is trimmed like any). @default 100000 */
  streamMaxLength?: number;
  /** How often to read the identity again; 0: never (embedded PGlite, which no other process can change). @default 2000 */
  pollIntervalMs?: number;
  /** Called when the identity in force changes (not at start). */
  onChange?(previous: string, next: string): void;
}

const SCAN_BATCH = 1000;

export class DatabaseIdentity {
  private identity = '';
  private checking: Promise<void> | undefined;
  private isCheckAgainWanted = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopListening: (() => Promise<void>) | undefined;
  private isStopped = false;

  /** The process's keys: derived ones are built with the identity in force at each call. */
  readonly keys: RedisKeys;

  constructor(private readonly options: DatabaseIdentityOptions) {
    this.keys = createRedisKeys(options.prefix, () => this.identity);
  }

  /** Keys built with a given identity (the identity is part of every derived key). */
  private keysFor(identity: string): RedisKeys {
    return createRedisKeys(this.options.prefix, () => identity);
  }

  /** The identity derived keys are built with now. */
  get current(): string {
    return this.identity;
  }

  /** Reads the identity and notes it in Redis; then watches for changes. */
  async start(): Promise<void> {
    await this.check();
    const { database, subscriber } = this.options;
    this.stopListening = await database.listen(DATABASE_IDENTITY_CHANNEL, () => void this.check().catch(this.logCheckFailure));
    if (subscriber) {
      subscriber.on('message', this.onMessage);
      await subscriber.subscribe(this.keysFor(this.identity).databaseChangedChannel());
    }
    const pollIntervalMs = this.options.pollIntervalMs ?? 2000;
    if (pollIntervalMs > 0) {
      this.pollTimer = setInterval(() => void this.check().catch(this.logCheckFailure), pollIntervalMs);
      this.pollTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.isStopped = true;
    clearInterval(this.pollTimer);
    this.options.subscriber?.off('message', this.onMessage);
    await this.stopListening?.().catch(() => undefined);
    await this.checking?.catch(() => undefined);
  }

  /** Reads the database's identity again and switches to it if it changed. One at a time; a call during one runs another after it. */
  check(): Promise<void> {
    if (this.checking) {
      this.isCheckAgainWanted = true;
      return this.checking;
    }
    this.checking = (async () => {
      try {
        do {
          this.isCheckAgainWanted = false;
          await this.checkOnce();
        } while (this.isCheckAgainWanted && !this.isStopped);
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    const { database, redis, logger } = this.options;
    // The background handle: these polls must not show up in the per-request SQL statement counts.
    const stored = await readDatabaseIdentity(database.backgroundDb);
    let identity = stored.id;
    let replaced = stored.previousId;
    if (!stored.isSameDatabase) {
      identity = await mintDatabaseIdentity(database.backgroundDb, stored.id);
      replaced = stored.id;
      logger.warn({ previous: stored.id, identity }, 'the database was recreated or restored from a dump: it gets a new identity');
    } else {
      const lastPublished = Number((await redis.get(this.keysFor(identity).lastPublishedOutboxId())) ?? 0);
      // Rows committed and published since Postgres was read above would look like a restore
      // (with writes flowing, and more so while a Redis failover delays this GET): only outbox ids
      // Postgres still lacks after the GET prove one.
      if (lastPublished > stored.lastOutboxId && lastPublished > (await readDatabaseIdentity(database.backgroundDb)).lastOutboxId) {
        identity = await mintDatabaseIdentity(database.backgroundDb, stored.id);
        replaced = stored.id;
        logger.warn(
          { previous: stored.id, identity, lastOutboxId: stored.lastOutboxId, lastPublished },
          'the database is behind what Redis saw published (restored from a backup?): it gets a new identity',
        );
      }
    }
    if (identity === this.identity) return;
    const noted = await this.adopt(identity);
    // This database's own earlier state: what this process used, or the identity the new one
    // replaced if Redis was last used with it (otherwise there is nothing worth a SCAN).
    const previous = this.identity || (replaced !== null && noted === replaced ? replaced : '');
    this.switchTo(identity);
    if (previous && previous !== identity) void this.discardDerivedState(previous);
  }

  /** Notes the identity in Redis (adoptDatabase-n.lua); resolves to the one noted before. */
  private async adopt(identity: string): Promise<string> {
    const { redis } = this.options;
    const keys = this.keysFor(identity);
    const streams = STREAMS.map((name) => keys.stream(name));
    return String(
      await redis.adoptDatabase(1 + streams.length, keys.databaseIdentity(), ...streams, identity, this.options.streamMaxLength ?? 100_000, keys.databaseChangedChannel(), publishCommandOf(redis)),
    );
  }

  private switchTo(identity: string): void {
    const previous = this.identity;
    this.identity = identity;
    if (previous) {
      this.options.logger.warn({ previous, identity }, 'the database was replaced: state derived from the old data is no longer used');
      this.options.onChange?.(previous, identity);
    }
  }

  /** Another process announced an identity: perhaps our database's new one; read it again (never trust it blindly). */
  private readonly onMessage = (channel: string, message: string): void => {
    if (this.isStopped || channel !== this.keysFor(this.identity).databaseChangedChannel() || message === this.identity) return;
    void this.check().catch(this.logCheckFailure);
  };

  private readonly logCheckFailure = (error: unknown): void => {
    this.options.logger.warn({ reason: describeError(error) }, 'cannot check the database identity; trying again');
  };

  /** Deletes the keys derived from an old identity, a batch at a time (they would otherwise wait for their TTLs). */
  private async discardDerivedState(identity: string): Promise<void> {
    const pattern = this.keysFor(identity).derivedKeysPattern();
    for (const connection of this.options.derivedStateConnections) {
      try {
        await unlinkMatching(connection, pattern, { count: SCAN_BATCH, shouldStop: () => this.isStopped });
      } catch (error) {
        this.options.logger.warn({ reason: describeError(error), identity }, 'could not delete every key of the old database; the rest expire');
      }
    }
  }
}
