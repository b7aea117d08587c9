// A real gateway in the test process: its own redis-server, its own database, a free port.
import { createApp, type App } from '../../src/app';
import { loadConfig, type ConfigInput } from '../../src/config';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createLogger, type Logger } from '../../src/logger';
import { demoAccounts } from '../../src/db/seed';
import { createTestDatabase, seedTestData, type TestDatabase } from './database';
import { startRedisServer, type RedisServerHandle } from './redis-server';

export interface TestGateway {
  app: App;
  url: string;
  wsUrl: string;
  /** `http://127.0.0.1:<METRICS_PORT>` when the gateway runs an operator listener (METRICS_PORT set), else null. */
  operatorOrigin: string | null;
  redisServer: RedisServerHandle;
  database: TestDatabase;
  /** POSTs a GraphQL operation; returns the status and parsed body. */
  graphql<Data = Record<string, unknown>>(
    query: string,
    options?: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: { data?: Data | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } }>;
  login(email: string, password: string): Promise<string>;
  stop(): Promise<void>;
}

export interface TestGatewayOptions {
  env?: Partial<Record<keyof ConfigInput, string>>;
  /** Seed sizes; the demo accounts are always there. */
  seed?: Parameters<typeof seedTestData>[1];
  redisServer?: RedisServerHandle;
  database?: TestDatabase;
  /** Fault injection: runs after each mutation's commit, before its event is published (createApp's `afterCommit`). */
  afterCommit?: () => void;
  /** Run the projections (notifications, top products) in the gateway, as `npm start` on PGlite does. */
  runProjections?: boolean;
  /** The app's logger (e.g. recordingLogger(), to assert what it logged). @default silent, or LOG_LEVEL from env */
  logger?: Logger;
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const redisServer = options.redisServer ?? (await startRedisServer());
  const database = options.database ?? (await createTestDatabase());
  if (!options.database) await seedTestData(database, options.seed);
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    REDIS_URL: redisServer.url,
    SEED_DEMO_DATA: 'false',
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const app = await createApp({ config, database, logger, afterCommit: options.afterCommit, runProjections: options.runProjections });
  const url = await app.listen();

  const graphql: TestGateway['graphql'] = async (query, { variables, token, headers } = {}) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as never };
  };

  return {
    app,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    operatorOrigin: operatorOriginOf(app),
    redisServer,
    database,
    graphql,
    async login(email, password) {
      const { body } = await graphql<{ login: { token: string } }>(
        'mutation ($email: String!, $password: String!) { login(email: $email, password: $password) { token } }',
        { variables: { email, password } },
      );
      if (!body.data?.login) throw new Error(`login failed: ${JSON.stringify(body.errors)}`);
      return body.data.login.token;
    },
    async stop() {
      await app.stop();
      if (!options.redisServer) await redisServer.stop();
    },
  };
}

/** Session tokens of the three demo accounts (admin, alice, bob; see src/db/seed.ts). */
export async function loginDemoAccounts(gateway: Pick<TestGateway, 'login'>): Promise<{ admin: string; alice: string; bob: string }> {
  const [admin, alice, bob] = await Promise.all(demoAccounts.slice(0, 3).map((account) => gateway.login(account.email, account.password)));
  return { admin: admin!, alice: alice!, bob: bob! };
}

/** A logger that keeps every line (parsed) in `lines`, for tests that check what the gateway logged. */
export function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

function operatorOriginOf(app: App): string | null {
  const address = app.server.operatorServer?.server.address() as AddressInfo | null | undefined;
  return address ? `http://127.0.0.1:${address.port}` : null;
}
