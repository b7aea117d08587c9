// A replica's identity check reads Postgres (the highest outbox id handed out), then Redis (the
// highest outbox id published): an id Redis saw published that Postgres never handed out means the
// database was restored from a backup, and gets a new identity. With writes flowing, rows are
// committed and published between the two reads; taking that for a restore would make every
// replica drop its caches, sessions and stream history (seen in a Redis Cluster failover, where
// the second read waits for the promotion while the relay catches up). Here a write lands exactly
// between the two reads.
import { DatabaseIdentity } from '../../src/events/database-identity';
import { createLogger } from '../../src/logger';
import type { RedisClient } from '../../src/redis/client';
import type { EventScripts } from '../../src/redis/scripts';
import { demoAccounts } from '../../src/db/seed';
import { RESTOCK_PRODUCT } from '../support/documents';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { mutate } from '../support/graphql';

const [admin] = demoAccounts as [(typeof demoAccounts)[0]];
let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway({ seed: { users: 5, products: 5, orders: 0 } });
});

afterAll(() => gateway?.stop());

/** The gateway's connection, except that reading the last published id first commits and publishes a write. */
function writingBeforeLastPublishedIsRead(token: string): { redis: RedisClient & EventScripts; raced: () => boolean } {
  const lastPublishedKey = gateway.app.keys.lastPublishedOutboxId();
  const target = gateway.app.redis as RedisClient & EventScripts;
  let hasRaced = false;
  const redis = new Proxy(target, {
    get(connection, property) {
      const value = Reflect.get(connection, property, connection) as unknown;
      if (property !== 'get') return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(connection) : value;
      return async (key: string) => {
        if (key === lastPublishedKey && !hasRaced) {
          hasRaced = true;
          // Returns once its event is published: Redis's last published id is now past what Postgres was read at.
          await mutate(gateway, RESTOCK_PRODUCT, { id: '1', quantity: 1 }, token);
        }
        return connection.get(key);
      };
    },
  });
  return { redis, raced: () => hasRaced };
}

it('does not take rows committed and published during its check for a database restored from a backup', async () => {
  const token = await gateway.login(admin.email, admin.password);
  const { redis, raced } = writingBeforeLastPublishedIsRead(token);
  const replica = new DatabaseIdentity({
    database: gateway.app.database,
    redis,
    derivedStateConnections: [],
    prefix: gateway.app.config.REDIS_PREFIX,
    logger: createLogger('silent'),
    pollIntervalMs: 0,
  });
  await replica.start();
  try {
    expect(raced()).toBe(true);
    expect(replica.current).toBe(gateway.app.identity.current);
  } finally {
    await replica.stop();
  }
});
