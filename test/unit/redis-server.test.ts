// The redis-server helper every other test relies on: start, crash, restart on the same port, stop.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import Redis from 'ioredis';
import { startRedisServer, type RedisServerHandle } from '../../src/testing/redis-server';

/** Connects once, without retries, and sends PING; a dead server rejects with the socket error. */
async function pingOnce(port: number): Promise<string> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // ioredis rejects connect() with a generic "Connection is closed."; the cause comes as an event.
  let socketError: Error | undefined;
  client.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    await client.connect();
    return await client.ping();
  } catch (error) {
    throw socketError ?? error;
  } finally {
    // disconnect() on a client that already ended arms a 2 s timer that holds the worker open.
    if (client.status !== 'end') client.disconnect();
  }
}

describe('startRedisServer', () => {
  let server: RedisServerHandle;

  beforeAll(async () => {
    server = await startRedisServer();
  });

  afterAll(async () => {
    await server.stop();
  });

  it('starts a server on a loopback port that answers PING', async () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    const client = new Redis(server.url);
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('refuses connections after kill() and answers again after restart() on the same port', async () => {
    const { port } = server;
    await server.kill();

    await expect(pingOnce(port)).rejects.toThrow(/ECONNREFUSED/);

    await server.restart();
    expect(server.port).toBe(port);
    expect(await pingOnce(port)).toBe('PONG');
  });

  it('starts on an unused port each time and stops with SIGTERM', async () => {
    const other = await startRedisServer({ args: ['--maxmemory', '10mb'] });
    try {
      expect(other.port).not.toBe(server.port);
      const client = new Redis(other.url);
      try {
        expect(await client.config('GET', 'maxmemory')).toEqual(['maxmemory', String(10 * 1024 * 1024)]);
      } finally {
        client.disconnect();
      }
    } finally {
      await other.stop();
    }
    await expect(pingOnce(other.port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('reports the server output when redis-server refuses to start', async () => {
    await expect(startRedisServer({ args: ['--no-such-directive', 'x'] })).rejects.toThrow(
      /exited before it was ready[\s\S]*no-such-directive/i,
    );
  });

  it('says how to install redis-server when it is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startRedisServer()).rejects.toThrow(
        'redis-server not found on PATH: install it (apt-get install -y redis-server, or brew install redis)',
      );
    } finally {
      process.env.PATH = path;
    }
  });

  // Jest SIGKILLs a worker that does not exit in time at the end of a run: no exit hook runs then,
  // and without the watchdog its servers were left running with no parent (found after a CI run).
  it('does not outlive the process that started it, even one killed with SIGKILL', async () => {
    const repoRoot = path.join(__dirname, '..', '..');
    const starter = spawn(
      process.execPath,
      ['-r', './scripts/register-swc.js', '-e', "require('./src/testing/redis-server').startRedisServer().then((s) => console.log(s.port)); process.stdin.resume();"],
      { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const [firstLine] = (await once(starter.stdout!, 'data')) as [Buffer];
    const port = Number(firstLine.toString().trim());
    const client = new Redis({ port, host: '127.0.0.1', retryStrategy: () => null, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    try {
      expect(await client.ping()).toBe('PONG');
      // The server's end is an event: a live redis-server never closes an idle client's connection,
      // a killed one does. Bounded, so that a server that stays up fails the test instead of
      // holding it open.
      const closed = once(client, 'end', { signal: AbortSignal.timeout(10_000) });
      starter.kill('SIGKILL');
      await closed;
    } finally {
      // Without the watchdog, the server would still run: shut it down (a no-op once it is gone).
      if (client.status === 'ready') await client.shutdown('NOSAVE').catch(() => undefined);
      if (client.status !== 'end') client.disconnect(); // see pingOnce
      starter.stdin!.destroy();
    }
  }, 20_000);
});
