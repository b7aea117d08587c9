// Stopping the app during a Redis outage ends every Redis connection for good: none keeps a
// reconnect timer (which would keep the process alive and reconnect a stopped app later).
import { setTimeout as delay } from 'node:timers/promises';
import Redis from 'ioredis';
import { startTestGateway } from '../support/gateway';

it('does not reconnect to Redis after being stopped while Redis was down', async () => {
  const gateway = await startTestGateway({ seed: { users: 10, products: 10, orders: 10 } });
  const connections = gateway.app.redisConnections;
  const cacheClosed = new Promise((resolve) => connections.cache.once('close', resolve));
  await gateway.redisServer.kill();
  await cacheClosed;
  await gateway.app.stop();

  await gateway.redisServer.restart();
  const observer = new Redis(gateway.redisServer.url);
  try {
    // Nothing is supposed to happen, so there is no event to wait on: wait out the longest
    // reconnect delay of the gateway's retry strategy (2 s), then look.
    await delay(2500);
    const clients = String(await observer.client('LIST'));
    expect(clients).not.toMatch(/name=streamgate:/);
  } finally {
    observer.disconnect();
    await gateway.redisServer.stop();
  }
});
