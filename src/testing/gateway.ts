// createTestGateway: the real gateway (createApp: schema, loaders, cache, outbox relay, pub/sub,
// subscriptions) in the test's process, on a database copied from a migrated, seeded snapshot
// (database.ts) and a Redis key prefix of its own (redis.ts), with no port opened. reset() puts the
// snapshot's rows back in place and lets the app switch to the new database identity, as it does
// when a database is replaced under it (snapshot.ts); docs/extending.md has the options measured
// (a new app per test on a fresh copy and prefix cost 4 to 15 times more) and why this one.
import type { App } from '../app';
import { createApp } from '../app';
import { loadConfig, type ConfigInput } from '../config';
import { STREAMS, type StreamName } from '../events/event-types';
import { createLogger, type Logger } from '../logger';
import { unlinkMatching } from '../redis/client';
import type { GatewayModule } from '../modules/context';
import { streamTail } from '../subscriptions/stream-replay';
import { databaseSource, type SnapshotSeed } from './database';
import { readPublishedEvents, type EventsOptions, type PublishedEvent } from './events';
import { createExecute, type Execute } from './execute';
import { createFixtures, type Fixtures } from './fixtures';
import { kitRedis } from './redis';
import { restoreSnapshot } from './snapshot';
import { createSubscribe, type Subscribe } from './subscription-runner';
import type { TestSubscription } from './test-subscription';

export interface TestGatewayOptions {
  /** Modules to add, as `createApp({ modules })` does in production. @default [] */
  modules?: readonly GatewayModule[];
  /** Configuration over the defaults of src/config.ts (e.g. `{ CACHE_ENABLED: 'false' }`). @default {} */
  env?: Partial<Record<keyof ConfigInput, string>>;
  /**
   * A Redis to use, each gateway state under a prefix of its own. @default TEST_REDIS_URL, else a
   * set-up the kit starts once per process: a redis-server, or with TEST_REDIS_TOPOLOGY=sentinel or
   * cluster a Sentinel set-up or a 3-master Redis Cluster
   */
  redisUrl?: string;
  /** A PostgreSQL server to copy scratch databases on. @default DATABASE_URL, else PGlite in memory */
  databaseUrl?: string;
  /**
   * The demo data the database starts with (and reset() restores): sizes and PRNG seed of
   * src/db/seed.ts; users 1-3 are always the demo accounts. @default SNAPSHOT_SEED (20 users, 30 products, 200 orders)
   */
  seed?: SnapshotSeed;
  /** @default silent (LOG_LEVEL in `env` picks another level) */
  logger?: Logger;
}

export interface TestGateway {
  /** A query or mutation through Apollo's executeOperation; typed by a TypedDocumentNode. */
  execute: Execute;
  /** A subscription over the real feed (pub/sub, replay); resolves once it is listening. */
  subscribe: Subscribe;
  /** The domain events the current state published on `stream`, oldest first. */
  events(stream: StreamName, options?: EventsOptions): Promise<PublishedEvent[]>;
  /** Users, products and orders written straight into the database. */
  fixtures: Fixtures;
  /** The app of the current state (its cache, keys, database…), for what the helpers do not cover. */
  readonly app: App;
  /**
   * A fresh state: the snapshot's rows, a new database identity (so no cache entry, cached response
   * or session from before), open subscriptions closed, budgets cleared, events() from here.
   */
  reset(): Promise<void>;
  /** Stops the app and removes its database copy and Redis keys. Safe to call twice. */
  close(): Promise<void>;
}

interface GatewayState {
  app: App;
  execute: Execute;
  subscribe: Subscribe;
  fixtures: Fixtures;
  /** Closes the subscriptions tests left open. */
  closeSubscriptions(): Promise<void>;
  stop(): Promise<void>;
}

export async function createTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const modules = options.modules ?? [];
  const [redis, source] = await Promise.all([kitRedis(options.redisUrl), databaseSource(modules, options.databaseUrl, options.seed)]);
  const prefix = redis.newPrefix();

  const boot = async (): Promise<GatewayState> => {
    const config = loadConfig({
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      ...redis.env,
      REDIS_PREFIX: prefix,
      SEED_DEMO_DATA: 'false',
      LOG_LEVEL: 'silent',
      ...options.env,
    });
    const copy = await source.copy();
    let app: App;
    try {
      // No HTTP face: the kit runs operations through Apollo and the subscription core, and a
      // later test file need not load Fastify, ws and graphql-ws (about 0.16 s in Jest).
      app = await createApp({ config, database: copy.database, modules, logger: options.logger ?? createLogger(config.LOG_LEVEL), http: false });
    } catch (error) {
      await copy.database.close().catch(() => undefined);
      await copy.discard();
      throw error;
    }
    const subscriptions = new Set<TestSubscription<unknown>>();
    const closeSubscriptions = async () => {
      await Promise.all([...subscriptions].map((subscription) => subscription.close()));
      subscriptions.clear();
    };
    return {
      app,
      execute: createExecute(app),
      subscribe: createSubscribe(app, (subscription) => subscriptions.add(subscription)),
      fixtures: createFixtures(app),
      closeSubscriptions,
      async stop() {
        await closeSubscriptions();
        await app.stop();
        await copy.discard();
      },
    };
  };

  const state = await boot();
  /** Where each stream ended at the last reset(): events() reads what came after. */
  let streamMarks = new Map<StreamName, string>();
  let closing: Promise<void> | undefined;
  return {
    execute: (document, operationOptions) => state.execute(document, operationOptions),
    subscribe: (document, operationOptions) => state.subscribe(document, operationOptions),
    events: (stream, eventsOptions) => readPublishedEvents(state.app, stream, { after: streamMarks.get(stream), ...eventsOptions }),
    fixtures: {
      user: (fields) => state.fixtures.user(fields),
      product: (fields) => state.fixtures.product(fields),
      order: (fields) => state.fixtures.order(fields),
    },
    get app() {
      return state.app;
    },
    async reset() {
      const { app } = state;
      await state.closeSubscriptions();
      const identity = await restoreSnapshot(app.database.db);
      // The app would switch on the identity's NOTIFY, a moment later; checking now makes the
      // switch part of reset(), so the next test's first read cannot see the old namespace.
      await app.identity.check();
      if (app.identity.current !== identity) throw new Error(`reset(): the app did not switch to the restored database (${app.identity.current} ≠ ${identity})`);
      // Budgets and login counters are keyed by client, not by data: the next test starts afresh.
      for (const counters of ['cost-budget', 'login-failures', '{response-budget}']) await unlinkMatching(app.redis, `${prefix}:${counters}*`);
      streamMarks = new Map(await Promise.all(STREAMS.map(async (stream) => [stream, await streamTail(app.redis, app.keys.stream(stream))] as const)));
    },
    close: () =>
      (closing ??= (async () => {
        await state.stop();
        await redis.release([prefix]);
      })()),
  };
}
