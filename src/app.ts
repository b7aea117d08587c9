// Composition root: connects Redis and the database, migrates (and seeds an empty embedded
// database), builds the schema and the HTTP/websocket server. Returns start/stop for main.ts and
// for tests, which pass their own database and Redis URL.
import type Redis from 'ioredis';
import { describeError, redactUrl, type Config } from './config';
import { openDatabase, type Database } from './db/client';
import { isDatabaseEmpty, seedDatabase } from './db/seed';
import { hashPassword } from './auth/password';
import { createLoginLimiter } from './auth/login-limiter';
import { createSessionStore } from './auth/session.store';
import type { RequestInfo } from './auth/viewer';
import { authenticate, type Authentication } from './http/auth-header';
import { createGatewayServer, type GatewayServer } from './http/server';
import { createLogger, type Logger } from './logger';
import { createLoaders, createServices, type GatewayContext } from './modules/context';
import { buildGatewaySchema } from './modules/schema';
import { connectRedis } from './redis/connection';
import { createRedisKeys } from './redis/keys';
import { createRedisPubSub } from './subscriptions/pubsub';

export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

export interface AppOptions {
  config: Config;
  /** An open database to use instead of the one the config names (tests); the app closes it on stop. */
  database?: Database;
  logger?: Logger;
}

export interface App {
  readonly config: Config;
  readonly logger: Logger;
  readonly database: Database;
  readonly redis: Redis;
  readonly server: GatewayServer<GatewayContext>;
  /** Resolves an Authorization value the way HTTP requests and websockets do. */
  authenticate(authorization: unknown): Promise<Authentication>;
  /** A fresh per-operation context (for `server.apollo.executeOperation` in tests). */
  createContext(authentication: Authentication, request: RequestInfo): GatewayContext;
  /** Listens on config HOST/PORT; resolves to the GraphQL URL. */
  listen(): Promise<string>;
  /** Stops accepting, closes sockets (1001) and connections. Safe to call twice. */
  stop(): Promise<void>;
}

/** Builds every part; throws RedisUnreachableError if Redis does not answer. */
export async function createApp({ config, database: givenDatabase, logger = createLogger(config.LOG_LEVEL) }: AppOptions): Promise<App> {
  const redisOptions = { url: config.REDIS_URL, connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS };
  const redis = await connectRedis({ ...redisOptions, connectionName: 'streamgate:command' }, { maxRetriesPerRequest: 1 });
  const subscriber = await connectRedis({ ...redisOptions, connectionName: 'streamgate:subscriber' }).catch(
    async (error: unknown) => {
      redis.disconnect();
      throw error;
    },
  );
  const closeRedis = async () => {
    await Promise.allSettled([redis.quit(), subscriber.quit()]);
  };

  let database: Database;
  try {
    database =
      givenDatabase ??
      (await openDatabase({
        databaseUrl: config.DATABASE_URL,
        pgliteDir: config.PGLITE_DIR,
        poolSize: config.DATABASE_POOL_SIZE,
      }));
    await database.migrate();
    if (config.SEED_DEMO_DATA && (await isDatabaseEmpty(database.db))) {
      const summary = await seedDatabase(database.db, { hashPassword });
      logger.info(summary, 'seeded demo data into the empty database');
    }
  } catch (error) {
    await closeRedis();
    if (givenDatabase || !config.DATABASE_URL) throw error;
    throw new DatabaseUnreachableError(
      `Cannot use the database at ${redactUrl(config.DATABASE_URL)} (${describeError(error)}). ` +
        'Start PostgreSQL there, fix DATABASE_URL, or unset it to use the embedded PGlite database.',
    );
  }
  for (const [role, connection] of [['command', redis], ['subscriber', subscriber]] as const) {
    connection.on('error', (error) => logger.warn({ role, reason: describeError(error) }, 'Redis connection lost; reconnecting'));
  }

  const keys = createRedisKeys(config.REDIS_PREFIX);
  const sessions = createSessionStore({ redis, keys, ttlSeconds: config.SESSION_TTL_SECONDS });
  const loginLimiter = createLoginLimiter({ redis, keyPrefix: keys.loginFailures() });
  const services = createServices({ db: database.db, sessions, loginLimiter });
  const pubSub = createRedisPubSub({ publisher: redis, subscriber, channelOf: keys.channel });
  const schema = await buildGatewaySchema(pubSub);

  const createContext = (authentication: Authentication, request: RequestInfo): GatewayContext => ({
    ...request,
    ...authentication,
    loaders: createLoaders(database.db),
    services,
  });

  const server = await createGatewayServer<GatewayContext>({
    schema,
    logger,
    limits: {
      maxDepth: config.GRAPHQL_MAX_DEPTH,
      maxCost: config.GRAPHQL_MAX_COST,
      maxAliases: config.GRAPHQL_MAX_ALIASES,
      maxTokens: config.GRAPHQL_MAX_TOKENS,
    },
    isIntrospectionEnabled: config.GRAPHQL_INTROSPECTION,
    isDevelopment: config.NODE_ENV === 'development',
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    readinessChecks: [
      { name: 'redis', check: async () => void (await redis.ping()) },
      { name: 'database', check: () => database.ping() },
    ],
    authenticate: (authorization) => authenticate(sessions, authorization),
    createContext,
  });

  let stopping: Promise<void> | undefined;
  return {
    config,
    logger,
    database,
    redis,
    server,
    authenticate: (authorization) => authenticate(sessions, authorization),
    createContext,
    listen: () => server.listen(config.PORT, config.HOST),
    stop: () =>
      (stopping ??= (async () => {
        await server.close();
        await closeRedis();
        await database.close();
      })()),
  };
}
