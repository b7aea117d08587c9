// docker-compose.yml is what users run in production, and no test starts it (there is no Docker
// engine in CI). So check its shape here, and that every gateway setting is one the config accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configKeys, loadConfig } from '../../src/config';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  ports?: string[];
  profiles?: string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
}

const composePath = join(__dirname, '..', '..', 'docker-compose.yml');
// merge: the gateways share one definition through a `<<: *gateway` merge key, as Compose resolves it.
const compose = parse(readFileSync(composePath, 'utf8'), { merge: true }) as ComposeFile;
const gatewayNames = ['gateway-1', 'gateway-2'];

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** Compose accepts `KEY: value` maps and `- KEY=VALUE` lists; both become a plain env object. */
function environmentOf(name: string): Record<string, string> {
  const environment = service(name).environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const separator = entry.indexOf('=');
        return separator === -1 ? [entry, ''] : [entry.slice(0, separator), entry.slice(separator + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, value == null ? '' : String(value)]));
}

describe('docker-compose.yml', () => {
  it.each([
    ['redis', ['CMD', 'redis-cli', 'ping']],
    ['redis-cache', ['CMD', 'redis-cli', 'ping']],
    ['postgres', ['CMD', 'pg_isready', '-U', 'postgres', '-d', 'streamgate']],
  ])('health-checks %s with %j', (name, test) => {
    expect(service(name).healthcheck?.test).toEqual(test);
  });

  it.each(gatewayNames)('health-checks %s on its own /readyz, inside the container', (name) => {
    const test = service(name).healthcheck?.test;
    expect(test?.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect(test?.[3]).toContain("fetch('http://127.0.0.1:4000/readyz')");
    expect(test?.[3]).toMatch(/process\.exit\(r\.ok \? 0 : 1\)/);
  });

  it('runs the images the stack was tested with: Redis 7 for both roles, PostgreSQL 16', () => {
    expect(service('redis').image).toBe('redis:7-alpine');
    expect(service('redis-cache').image).toBe('redis:7-alpine');
    expect(service('postgres').image).toBe('postgres:16-alpine');
    expect(service('postgres').environment).toEqual({ POSTGRES_PASSWORD: 'postgres', POSTGRES_DB: 'streamgate' });
  });

  it('builds the gateways and the worker from this repository, and publishes the gateways on 4001 and 4002', () => {
    for (const name of [...gatewayNames, 'worker']) {
      expect(service(name).build).toBe('.');
      expect(service(name).image).toBeUndefined();
    }
    expect(service('gateway-1').ports).toEqual(['4001:4000']);
    expect(service('gateway-2').ports).toEqual(['4002:4000']);
    expect(service('worker').ports).toBeUndefined();
    for (const name of ['redis', 'redis-cache', 'postgres']) expect(service(name).ports).toBeUndefined();
  });

  const commandOf = (name: string) => {
    const command = service(name).command;
    return Array.isArray(command) ? command.join(' ') : (command ?? '');
  };

  it('runs the durable Redis with the append-only file on and no eviction', () => {
    expect(commandOf('redis')).toMatch(/--appendonly\s+yes\b/);
    expect(commandOf('redis')).toMatch(/--maxmemory-policy\s+noeviction\b/);
  });

  it('runs the cache Redis bounded and evicting, and points every gateway at it', () => {
    expect(commandOf('redis-cache')).toMatch(/--maxmemory\s+\d+[kmg]b\b/);
    expect(commandOf('redis-cache')).toMatch(/--maxmemory-policy\s+allkeys-lru\b/);
    for (const name of gatewayNames) {
      const config = loadConfig(environmentOf(name));
      expect(config.REDIS_CACHE_URL).toBe('redis://redis-cache:6379');
      expect(config.REDIS_URL).toBe('redis://redis:6379');
    }
  });

  it.each(gatewayNames)('sets only environment variables that src/config.ts knows on %s', (name) => {
    const environment = environmentOf(name);
    expect(Object.keys(environment).sort()).toEqual(['DATABASE_URL', 'NODE_ENV', 'PORT', 'REDIS_CACHE_URL', 'REDIS_URL', 'SEED_DEMO_DATA']);
    const unknownKeys = Object.keys(environment).filter((key) => !(configKeys as readonly string[]).includes(key));
    expect(unknownKeys).toEqual([]);
  });

  it.each(gatewayNames)('gives %s an environment that loadConfig accepts', (name) => {
    const environment = environmentOf(name);
    expect(() => loadConfig(environment)).not.toThrow();
    const config = loadConfig(environment);
    expect(config.isProduction).toBe(true);
    // The compose services by name: the postgres service's user, password and database.
    expect(config.DATABASE_URL).toBe('postgres://postgres:postgres@postgres:5432/streamgate');
    expect(config.PORT).toBe(4000);
  });

  it('runs a worker from the build output, with settings that loadConfig accepts', () => {
    const command = service('worker').command;
    expect(Array.isArray(command) ? command.join(' ') : command).toBe('node dist/worker.js');
    const environment = environmentOf('worker');
    expect(Object.keys(environment).filter((key) => !(configKeys as readonly string[]).includes(key))).toEqual([]);
    // Workers refuse embedded PGlite: they must be given the PostgreSQL the gateways use.
    const config = loadConfig(environment);
    expect(config.isProduction).toBe(true);
    expect(config.DATABASE_URL).toBe('postgres://postgres:postgres@postgres:5432/streamgate');
    expect(config.DATABASE_URL).toBe(environmentOf('gateway-1').DATABASE_URL);
    // The durable Redis, where the streams the worker consumes live (it has no cache).
    expect(config.REDIS_URL).toBe('redis://redis:6379');
  });

  it.each([...gatewayNames, 'worker'])('starts %s only after redis and postgres are healthy', (name) => {
    const dependsOn = service(name).depends_on;
    expect(Array.isArray(dependsOn)).toBe(false);
    const conditions = dependsOn as Record<string, { condition?: string }>;
    expect(conditions.redis).toEqual({ condition: 'service_healthy' });
    expect(conditions.postgres).toEqual({ condition: 'service_healthy' });
  });

  it.each(gatewayNames)('also starts %s only after the cache Redis is healthy', (name) => {
    expect(service(name).depends_on).toEqual({
      redis: { condition: 'service_healthy' },
      'redis-cache': { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
    });
  });

  describe('the "sentinel" profile', () => {
    const sentinelNames = ['sentinel-1', 'sentinel-2', 'sentinel-3'];
    const profileNames = ['redis-sentinel-master', 'redis-sentinel-replica', ...sentinelNames, 'gateway-sentinel', 'worker-sentinel'];
    const SENTINELS = 'sentinel-1:26379,sentinel-2:26379,sentinel-3:26379';

    it('keeps its services out of a plain `docker compose up`, and the default ones out of the profile', () => {
      for (const name of profileNames) expect(service(name).profiles).toEqual(['sentinel']);
      for (const name of ['redis', 'redis-cache', 'postgres', ...gatewayNames, 'worker']) expect(service(name).profiles).toBeUndefined();
    });

    it('runs a durable master and its replica (AOF, no eviction) on Redis 7', () => {
      expect(service('redis-sentinel-master').image).toBe('redis:7-alpine');
      expect(service('redis-sentinel-replica').image).toBe('redis:7-alpine');
      for (const name of ['redis-sentinel-master', 'redis-sentinel-replica']) {
        expect(commandOf(name)).toMatch(/--appendonly\s+yes\b/);
        expect(commandOf(name)).toMatch(/--maxmemory-policy\s+noeviction\b/);
        expect(service(name).ports).toBeUndefined();
      }
      expect(commandOf('redis-sentinel-replica')).toMatch(/--replicaof redis-sentinel-master 6379\b/);
    });

    it.each(sentinelNames)('runs %s as a sentinel with a quorum of 2 over the master, from a writable configuration', (name) => {
      const command = commandOf(name);
      expect(service(name).image).toBe('redis:7-alpine');
      expect(command).toContain('sentinel monitor mymaster redis-sentinel-master 6379 2');
      expect(command).toContain('sentinel resolve-hostnames yes');
      expect(command).toMatch(/> \/tmp\/sentinel\.conf && exec redis-server \/tmp\/sentinel\.conf --sentinel$/);
      expect(service(name).healthcheck?.test).toEqual(['CMD', 'redis-cli', '-p', '26379', 'ping']);
    });

    it('points the profile\'s gateway and worker at the three sentinels, with no REDIS_URL, through a config loadConfig accepts', () => {
      for (const name of ['gateway-sentinel', 'worker-sentinel']) {
        const environment = environmentOf(name);
        expect(environment.REDIS_URL).toBeUndefined();
        expect(Object.keys(environment).filter((key) => !(configKeys as readonly string[]).includes(key))).toEqual([]);
        const config = loadConfig(environment);
        expect(config.isProduction).toBe(true);
        expect(environment.REDIS_SENTINELS).toBe(SENTINELS);
        expect(config.redisTarget).toEqual({
          kind: 'sentinel',
          name: 'mymaster',
          sentinels: sentinelNames.map((host) => ({ host, port: 26379 })),
        });
        expect(config.DATABASE_URL).toBe(environmentOf('gateway-1').DATABASE_URL);
      }
      expect(loadConfig(environmentOf('gateway-sentinel')).redisCacheTarget).toEqual({ kind: 'standalone', url: 'redis://redis-cache:6379' });
      expect(loadConfig(environmentOf('worker-sentinel')).redisCacheTarget).toBeNull();
    });

    it('builds the profile\'s gateway like the others, published on 4003, started once the sentinels are healthy', () => {
      expect(service('gateway-sentinel').build).toBe('.');
      expect(service('worker-sentinel').build).toBe('.');
      expect(service('gateway-sentinel').ports).toEqual(['4003:4000']);
      expect(service('gateway-sentinel').healthcheck?.test).toEqual(service('gateway-1').healthcheck?.test);
      expect(service('gateway-sentinel').depends_on).toEqual({
        'sentinel-1': { condition: 'service_healthy' },
        'sentinel-2': { condition: 'service_healthy' },
        'sentinel-3': { condition: 'service_healthy' },
        'redis-cache': { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
      });
    });
  });
});
