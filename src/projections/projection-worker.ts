// Runs the projections' consumer groups in one process: a ConsumerGroupRunner per projection, each
// with its own blocking Redis connection, sharing one command connection. Used by src/worker.ts;
// anything else that holds a database and Redis (a gateway on embedded PGlite) could run it too.
import type { RedisClient } from '../redis/client';
import { describeError } from '../errors';
import type { Db } from '../db/client';
import { ConsumerGroupRunner } from '../events/consumer';
import type { Logger } from '../logger';
import type { RedisKeys } from '../redis/keys';
import { defineProjectionScripts } from '../redis/scripts';
import { createProjection, isTransientProjectionError, type ProjectionName } from './projections';

export interface ProjectionWorkerOptions {
  db: Db;
  /** Commands of every runner (acks, claims, the projection scripts). */
  redis: RedisClient;
  /** Opens a dedicated connection for one runner's blocking reads; closed by the caller after stop(). */
  openBlockingConnection(group: ProjectionName): Promise<RedisClient>;
  keys: RedisKeys;
  logger: Logger;
  /** The projections to run, one consumer group each. */
  groups: readonly ProjectionName[];
  /** This process's consumer name, unique within each group. */
  consumer: string;
  /** The database identity in force: entries of another database are skipped (see ConsumerGroupOptions). */
  currentDatabase?: () => string;
  /** @default 100 */
  batchSize?: number;
  /** @default 5000 */
  blockMs?: number;
  /** @default 30000 */
  claimIdleMs?: number;
  /** @default 5 */
  maxDeliveries?: number;
}

export interface ProjectionWorker {
  readonly runners: ReadonlyMap<ProjectionName, ConsumerGroupRunner>;
  /** Lets every runner finish its current batch. */
  stop(): Promise<void>;
}

export async function startProjectionWorker(options: ProjectionWorkerOptions): Promise<ProjectionWorker> {
  const { keys, logger, consumer } = options;
  const deps = { db: options.db, redis: defineProjectionScripts(options.redis), keys };
  const runners = new Map<ProjectionName, ConsumerGroupRunner>();
  const stop = async () => {
    await Promise.all([...runners.values()].map((runner) => runner.stop()));
  };
  try {
    for (const name of options.groups) {
      const projection = createProjection(name, deps);
      const runner = new ConsumerGroupRunner({
        redis: deps.redis,
        blockingRedis: await options.openBlockingConnection(name),
        stream: keys.stream(projection.stream),
        deadLetterStream: keys.deadLetterStream(projection.stream),
        group: projection.group,
        consumer,
        handler: projection.handler,
        batchHandler: projection.batchHandler,
        currentDatabase: options.currentDatabase,
        isTransient: isTransientProjectionError,
        batchSize: options.batchSize,
        blockMs: options.blockMs,
        claimIdleMs: options.claimIdleMs,
        maxDeliveries: options.maxDeliveries,
      });
      const log = logger.child({ group: projection.group, stream: projection.stream });
      runner.on('error', (error) => log.warn({ reason: describeError(error) }, 'consumer group: retrying after an error'));
      runner.on('failed', (failure) => log.warn(failure, 'event handler failed; the entry will be delivered again'));
      runner.on('deadLettered', (failure) => log.error(failure, 'entry moved to the dead-letter stream'));
      runner.on('batchFailed', (error, size) => log.info({ size, reason: describeError(error) }, 'batch failed; handling its events one at a time'));
      runner.on('acked', (streamIds) => log.debug({ count: streamIds.length }, 'entries handled and acknowledged'));
      runners.set(name, runner);
      await runner.start();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { runners, stop };
}
