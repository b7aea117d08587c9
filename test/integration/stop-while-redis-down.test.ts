// Stopping the app during a Redis outage ends every Redis connection for good: none keeps a
// reconnect timer (which would keep the process alive and reconnect a stopped app later).
import { setTimeout as delay } from 'node:timers/promises';
import { startTestGateway } from '../support/gateway';
import { serverOf } from '../../src/testing/redis-topology';

it('does not reconnect to Redis after being stopped while Redis was down', async () => {
  // Its own redis-server whatever the topology: the test kills and restarts it.
  const gateway = await startTestGateway({ seed: { users: 10, products: 10, orders: 10 }, ownRedisServer: true });
  const connections = gateway.app.redisConnections;
  const cacheClosed = new Promise((resolve) => connections.cache.once('close', resolve));
  await serverOf(gateway.redis).kill();
  await cacheClosed;
  await gateway.app.stop();

  await serverOf(gateway.redis).restart();
  const observer = gateway.redis.connect();
  try {
    // Nothing is supposed to happen, so there is no event to wait on: wait out the longest
    // reconnect delay of the gateway's retry strategy (2 s), then look.
    await delay(2500);
    const clients = String(await observer.client('LIST'));
    expect(clients).not.toMatch(/name=streamgate:/);
  } finally {
    observer.disconnect();
    await serverOf(gateway.redis).stop();
  }
});
