import { ConfigError, loadConfig, redactUrl } from '../../src/config';

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
