// One gateway for a whole test file (startTestGateway's options), started in beforeAll and stopped
// in afterAll with what the file opened on it: a Redis connection of the file's own (opened when a
// test first asks for it), the admin's session token, and the raw websockets and SSE streams its
// tests handed to keep(). Call it at the top level of the file; read `gateway`, `redis` and
// `adminToken` inside tests and hooks.
import { demoAccounts } from '../../src/db/seed';
import type { RedisClient } from '../../src/redis/client';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './gateway';
import type { RawSocket } from './raw-websocket';
import type { SseResponse } from './sse-client';

export interface FileGateway {
  readonly gateway: TestGateway;
  /** A connection of the file's own to the gateway's Redis. */
  readonly redis: RedisClient;
  /** The admin demo account's session token. */
  readonly adminToken: string;
  /** Keeps a socket or stream to be closed when the file is done; returns it. */
  keep<Resource extends RawSocket | SseResponse>(resource: Resource): Resource;
}

export function fileGateway(options: TestGatewayOptions = {}): FileGateway {
  let started: { gateway: TestGateway; adminToken: string } | undefined;
  let redis: RedisClient | undefined;
  const kept: Array<RawSocket | SseResponse> = [];
  beforeAll(async () => {
    const gateway = await startTestGateway(options);
    const admin = demoAccounts[0]!;
    started = { gateway, adminToken: await gateway.login(admin.email, admin.password) };
  });
  afterAll(async () => {
    await Promise.all(kept.map(close));
    redis?.disconnect();
    await started?.gateway.stop();
  });
  const current = () => {
    if (!started) throw new Error('fileGateway(): used before its beforeAll started the gateway');
    return started;
  };
  return {
    get gateway() {
      return current().gateway;
    },
    get redis() {
      return (redis ??= current().gateway.redis.connect());
    },
    get adminToken() {
      return current().adminToken;
    },
    keep(resource) {
      kept.push(resource);
      return resource;
    },
  };
}

async function close(resource: RawSocket | SseResponse): Promise<void> {
  if ('dispose' in resource) {
    // A socket a test paused (a slow consumer) must read again to see its own close.
    resource.socket.resume();
    await resource.dispose();
  } else {
    resource.close();
  }
}
