// A real gateway in the test process: its own Redis (redis-topology.ts), its own database, a free
// port; `graphql` and `login` are graphql.ts bound to its URL.
import { createApp, type App } from '../../src/app';
import { loadConfig, type ConfigInput } from '../../src/config';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createLogger, type Logger } from '../../src/logger';
import { createTestDatabase, seedTestData, type TestDatabase } from './database';
import { graphqlClient, login, type GraphQLRequestOptions, type GraphQLResponse } from './graphql';
import { startOwnRedisServer, startTestRedis, type TestRedis } from '../../src/testing/redis-topology';

export interface TestGateway {
  app: App;
  url: string;
  wsUrl: string;
  /** `http://127.0.0.1:<METRICS_PORT>` when the gateway runs an operator listener (METRICS_PORT set), else null. */
  operatorOrigin: string | null;
  /** The Redis the gateway runs on: its own, or the one it was given. */
  redis: TestRedis;
  database: TestDatabase;
  /** POSTs a GraphQL operation (graphql.ts's postGraphQL); returns the status and parsed body. */
  graphql<Data = Record<string, unknown>>(query: string, options?: GraphQLRequestOptions): Promise<GraphQLResponse<Data>>;
  login(email: string, password: string): Promise<string>;
  stop(): Promise<void>;
}

export interface TestGatewayOptions {
  env?: Partial<Record<keyof ConfigInput, string>>;
  /** Seed sizes; the demo accounts are always there. */
  seed?: Parameters<typeof seedTestData>[1];
  /** A Redis to share (e.g. another gateway's); its owner stops it. @default startTestRedis() */
  redis?: TestRedis;
  /**
   * Start a redis-server of the gateway's own whatever the topology (startOwnRedisServer), for fault
   * tests that kill and restart it through serverOf(gateway.redis). @default false
   */
  ownRedisServer?: boolean;
  database?: TestDatabase;
  /** Fault injection: runs after each mutation's commit, before its event is published (createApp's `afterCommit`). */
  afterCommit?: () => void;
  /** Run the projections (notifications, top products) in the gateway, as `npm start` on PGlite does. */
  runProjections?: boolean;
  /** The app's logger (e.g. recordingLogger(), to assert what it logged). @default silent, or LOG_LEVEL from env */
  logger?: Logger;
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const redis = options.redis ?? (options.ownRedisServer ? await startOwnRedisServer() : await startTestRedis());
  const database = options.database ?? (await createTestDatabase());
  if (!options.database) await seedTestData(database, options.seed);
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    ...redis.env,
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const app = await createApp({ config, database, logger, afterCommit: options.afterCommit, runProjections: options.runProjections });
  const url = await app.listen();

  return {
    app,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    operatorOrigin: operatorOriginOf(app),
    redis,
    database,
    graphql: graphqlClient(url).request,
    login: (email, password) => login(url, email, password),
    async stop() {
      await app.stop();
      if (!options.redis) await redis.stop();
    },
  };
}

/** A logger that keeps every line (parsed) in `lines`, for tests that check what the gateway logged. */
export function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

function operatorOriginOf(app: App): string | null {
  const address = app.server!.operatorServer?.server.address() as AddressInfo | null | undefined;
  return address ? `http://127.0.0.1:${address.port}` : null;
}
