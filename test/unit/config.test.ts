import { ConfigError, describeRedisTarget, loadConfig, redactUrl } from '../../src/config';

it('runs on the embedded defaults with an empty environment', () => {
  const config = loadConfig({});
  expect(config).toMatchObject({
    PORT: 4000,
    REDIS_URL: 'redis://127.0.0.1:6379',
    PGLITE_DIR: '.data/pglite',
    SEED_DEMO_DATA: true,
    GRAPHQL_INTROSPECTION: true,
    isProduction: false,
  });
  expect(config.DATABASE_URL).toBeUndefined();
  expect(Object.isFrozen(config)).toBe(true);
});

it('does not seed demo accounts into a real PostgreSQL unless asked, and hides introspection in production', () => {
  const config = loadConfig({ DATABASE_URL: 'postgres://db/app', NODE_ENV: 'production' });
  expect(config.SEED_DEMO_DATA).toBe(false);
  expect(config.GRAPHQL_INTROSPECTION).toBe(false);
  expect(loadConfig({ DATABASE_URL: 'postgres://db/app', SEED_DEMO_DATA: 'true' }).SEED_DEMO_DATA).toBe(true);
});

it('names every bad variable on one line', () => {
  expect(() => loadConfig({ PORT: 'abc', REDIS_URL: 'http://x' })).toThrow(ConfigError);
  try {
    loadConfig({ PORT: 'abc', REDIS_URL: 'http://x' });
  } catch (error) {
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/PORT="abc" is invalid/);
    expect(message).toMatch(/REDIS_URL="http:\/\/x" is invalid: must start with redis:\/\//);
  }
});

it('never prints a password from a URL', () => {
  expect(redactUrl('postgres://app:s3cret@db:5432/app')).toBe('postgres://app:***@db:5432/app');
  expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  expect(() => loadConfig({ DATABASE_URL: 'mysql://u:s3cret@h/x' })).toThrow(/mysql:\/\/u:\*\*\*@h\/x/);
});

describe('Redis through Sentinel', () => {
  it('is standalone on REDIS_URL unless REDIS_SENTINELS is set', () => {
    expect(loadConfig({}).redisTarget).toEqual({ kind: 'standalone', url: 'redis://127.0.0.1:6379' });
    expect(loadConfig({}).redisCacheTarget).toBeNull();
    const config = loadConfig({ REDIS_SENTINELS: 'sentinel-1:26379, 10.0.0.2:26380,[::1]:26381' });
    expect(config.redisTarget).toEqual({
      kind: 'sentinel',
      name: 'mymaster',
      sentinels: [
        { host: 'sentinel-1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
    });
    expect(describeRedisTarget(config.redisTarget)).toBe('master "mymaster" of sentinels sentinel-1:26379,10.0.0.2:26380,[::1]:26381');
  });

  it('rejects a sentinel list that is not host:port pairs, naming the bad entry', () => {
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:26379,b' })).toThrow(/REDIS_SENTINELS="a:26379,b" is invalid: .*"b" is not a host:port/);
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:0' })).toThrow(/"a:0" is not a host:port/);
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:70000' })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:1,,b:2' })).toThrow(/"" is not a host:port/);
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'my master' })).toThrow(/REDIS_SENTINEL_NAME/);
  });

  it('refuses REDIS_URL and REDIS_SENTINELS together rather than guessing which one was meant', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://r:6379', REDIS_SENTINELS: 's:26379' })).toThrow(
      /REDIS_URL and REDIS_SENTINELS are both set/,
    );
    expect(() => loadConfig({ REDIS_CACHE_URL: 'redis://c:6379', REDIS_CACHE_SENTINELS: 's:26379' })).toThrow(
      /REDIS_CACHE_URL and REDIS_CACHE_SENTINELS/,
    );
  });

  it('puts the cache on a master of its own: its own sentinels, or the same sentinels under another name', () => {
    const own = loadConfig({ REDIS_SENTINELS: 's:26379', REDIS_CACHE_SENTINELS: 'c:26379', REDIS_CACHE_SENTINEL_NAME: 'cache' });
    expect(own.redisCacheTarget).toEqual({ kind: 'sentinel', sentinels: [{ host: 'c', port: 26379 }], name: 'cache' });
    const shared = loadConfig({ REDIS_SENTINELS: 's:26379', REDIS_CACHE_SENTINEL_NAME: 'cache' });
    expect(shared.redisCacheTarget).toEqual({ kind: 'sentinel', sentinels: [{ host: 's', port: 26379 }], name: 'cache' });
    expect(() => loadConfig({ REDIS_CACHE_SENTINEL_NAME: 'cache' })).toThrow(/no sentinels are/);
    // A standalone cache next to a durable role on Sentinel, and the other way round.
    expect(loadConfig({ REDIS_SENTINELS: 's:26379', REDIS_CACHE_URL: 'redis://c:6379' }).redisCacheTarget).toEqual({ kind: 'standalone', url: 'redis://c:6379' });
    expect(loadConfig({ REDIS_CACHE_SENTINELS: 'c:26379' }).redisCacheTarget).toMatchObject({ name: 'mymaster' });
  });
});

describe('GRAPHQL_PLAYGROUND', () => {
  it('is on outside production and off in production unless asked for', () => {
    expect(loadConfig({}).GRAPHQL_PLAYGROUND).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).GRAPHQL_PLAYGROUND).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production' }).GRAPHQL_PLAYGROUND).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_PLAYGROUND: 'true' }).GRAPHQL_PLAYGROUND).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development', GRAPHQL_PLAYGROUND: 'false' }).GRAPHQL_PLAYGROUND).toBe(false);
  });

  it('is independent of introspection, and rejects a value that is not a boolean', () => {
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_PLAYGROUND: '1' })).toMatchObject({ GRAPHQL_PLAYGROUND: true, GRAPHQL_INTROSPECTION: false });
    expect(() => loadConfig({ GRAPHQL_PLAYGROUND: 'on' })).toThrow(/GRAPHQL_PLAYGROUND="on" is invalid/);
  });
});
