// What travels with each operation: the viewer, the per-request loaders (never shared between
// requests, so one user's batch never serves another's), and the long-lived services.
import { ConfigError, type Config } from '../config';
import type { RedisClient } from '../redis/client';
import { LRUCache } from 'lru-cache';
import type { CacheStore } from '../cache/cache-store';
import type { EventWriter } from '../events/event-writer';
import type { Db } from '../db/client';
import type { LoginLimiter } from '../auth/login-limiter';
import type { SessionStore } from '../auth/session.store';
import type { RequestInfo, Viewer } from '../auth/viewer';
import type { RedisKeys } from '../redis/keys';
import type { SubscriberSocket, SubscriptionFeeds } from '../subscriptions/subscription-feeds';
import { createProductLoaders, productCacheType, productPageCacheType } from './catalog/product.loader';
import { createProductService } from './catalog/product.service';
import { createOrderLoaders, orderCacheType, orderItemsCacheType, orderPageCacheType } from './orders/order.loader';
import { createOrderService } from './orders/order.service';
import { createUserLoaders, userCacheType, userPageCacheType } from './users/user.loader';
import { createUserService } from './users/user.service';
import { createNotificationService } from './notifications/notification.service';
import { createTopProductsService } from './leaderboards/top-products.service';
import type { ClassType } from 'type-graphql';
import type { CacheType } from '../cache/cache-type';
import { registerModuleEvents, type ModuleEvents } from '../events/module-events';

export interface ServiceDeps {
  db: Db;
  events: EventWriter;
  sessions: SessionStore;
  loginLimiter: LoginLimiter;
  /** Reads the projections the worker keeps in Redis (top products): the durable instance. */
  redis: RedisClient;
  keys: RedisKeys;
  cache: CacheStore;
  subscriptions: SubscriptionFeeds;
}

/** How long the loaders of one event serve its subscribers (their reads are "now" for that long). */
const EVENT_LOADERS_TTL_MS = 1000;

/** The long-lived services: the built-in ones, and those of the added modules (GatewayModule, below). */
export function createServices(deps: ServiceDeps, modules: readonly GatewayModule[] = []): Services {
  // Loaders are made per request; made once here too, so a loader name taken twice fails the start.
  if (modules.length > 0) createLoaders(deps.db, deps.cache, modules);
  const builtIn = createBuiltInServices(deps, modules);
  return mergeModuleParts('service', builtIn, modules.map((module) => [module.name, module.createServices?.(deps)])) as Services;
}

function createBuiltInServices(deps: ServiceDeps, modules: readonly GatewayModule[]) {
  const eventLoaders = new LRUCache<string, Loaders>({ max: 256, ttl: EVENT_LOADERS_TTL_MS });
  return {
    users: createUserService(deps),
    products: createProductService(deps),
    orders: createOrderService(deps),
    notifications: createNotificationService(deps),
    topProducts: createTopProductsService(deps),
    subscriptions: deps.subscriptions,
    /** Loaders for one request (or one subscription event). */
    newLoaders: () => createLoaders(deps.db, deps.cache, modules),
    /**
     * Loaders shared by every local subscriber resolving the same live event: 5,000 subscribers
     * of a product read it once per event (and second), not 5,000 times; what they read is never
     * older than the event. Loaders only read data; what each subscriber may see is still decided
     * by the resolvers, with its own viewer.
     */
    loadersForEvent(eventId: string): Loaders {
      let loaders = eventLoaders.get(eventId);
      if (!loaders) eventLoaders.set(eventId, (loaders = createLoaders(deps.db, deps.cache, modules)));
      return loaders;
    },
  };
}

export type Services = ReturnType<typeof createBuiltInServices> & ModuleServices;

/** Every loader reads through the cache: DataLoader (per request) → L1 → Redis → Postgres. Added modules' loaders join them. */
export function createLoaders(db: Db, cache: CacheStore, modules: readonly GatewayModule[] = []): Loaders {
  const builtIn = { ...createUserLoaders(db, cache), ...createProductLoaders(db, cache), ...createOrderLoaders(db, cache) };
  if (modules.length === 0) return builtIn as Loaders;
  return mergeModuleParts('loader', builtIn, modules.map((module) => [module.name, module.createLoaders?.(db, cache)])) as Loaders;
}

export type Loaders = ReturnType<typeof createUserLoaders> & ReturnType<typeof createProductLoaders> & ReturnType<typeof createOrderLoaders> & ModuleLoaders;

/**
 * Settings that name cache types (CACHE_TYPE_TTL_SECONDS, CACHE_L1_TYPES) must name these: a
 * misspelt name would silently configure nothing. Throws a ConfigError naming every unknown one.
 */
export function assertKnownCacheTypes(
  settings: Pick<Config, 'CACHE_TYPE_TTL_SECONDS' | 'CACHE_L1_TYPES'>,
  moduleCacheTypes: ReadonlyArray<{ name: string }> = [],
): void {
  const known = new Set<string>([...loaderCacheTypes, ...moduleCacheTypes].map((type) => type.name));
  const problems = (
    [
      ['CACHE_TYPE_TTL_SECONDS', [...settings.CACHE_TYPE_TTL_SECONDS.keys()]],
      ['CACHE_L1_TYPES', [...settings.CACHE_L1_TYPES]],
    ] as const
  ).flatMap(([variable, names]) => {
    const unknown = names.filter((name) => !known.has(name));
    return unknown.length ? [`${variable} names ${unknown.map((name) => `"${name}"`).join(', ')}, not a cache type`] : [];
  });
  if (problems.length) throw new ConfigError(`Invalid configuration: ${problems.join('; ')} (the cache types: ${[...known].join(', ')})`);
}

/** Every cache type the built-in loaders read (whole responses record the generations of each). */
export const loaderCacheTypes = [
  userCacheType,
  userPageCacheType,
  productCacheType,
  productPageCacheType,
  orderCacheType,
  orderItemsCacheType,
  orderPageCacheType,
] as const;


export interface GatewayContext extends RequestInfo {
  viewer: Viewer | null;
  /** The bearer token of this request, for logout. */
  sessionToken: string | null;
  loaders: Loaders;
  services: Services;
  /** The websocket of a subscription (absent over HTTP): a slow consumer's is closed. */
  socket?: SubscriberSocket;
}

/**
 * A module a team adds to the gateway (docs/extending.md): its type-graphql resolvers, its loaders
 * (reading through the cache), its services, its SQL migrations and the streams of its events, all
 * registered by one line: `createApp({ config, modules: [reviewsModule] })`. The built-in modules
 * above are wired by hand; an added one touches nothing of theirs.
 */
export interface GatewayModule {
  /** Names the module in errors and its migrations table (`__drizzle_migrations_<name>`): lower case, digits, `_`. */
  name: string;
  /** Its type-graphql resolver classes, added to the schema. */
  resolvers: readonly ClassType[];
  /** Cache types its loaders read, so the response cache, live queries and CACHE_* settings know them. @default [] */
  cacheTypes?: ReadonlyArray<CacheType<never, unknown>>;
  /** Its loaders for one request, merged into `context.loaders` (declare their types in ModuleLoaders). @default none */
  createLoaders?(db: Db, cache: CacheStore): object;
  /** Its long-lived services, merged into `context.services` (declare their types in ModuleServices). @default none */
  createServices?(deps: ServiceDeps): object;
  /** A drizzle-kit migrations folder (with meta/_journal.json), applied after the gateway's own. @default none */
  migrationsFolder?: string;
  /** Its event types' streams and its aggregates' pub/sub channels (src/events/module-events.ts). @default none */
  events?: ModuleEvents;
}

/**
 * What added modules put into `context.loaders` and `context.services`: empty here; a module
 * declares its own (`declare module '…/modules/context' { interface ModuleLoaders { … } }`), as
 * Fastify's decorators are typed.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ModuleLoaders {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ModuleServices {}

/** Adds each module's parts to the built-in ones; a name taken twice would silently shadow one, so it throws. */
function mergeModuleParts(kind: 'loader' | 'service', builtIn: object, parts: ReadonlyArray<readonly [string, object | undefined]>): object {
  const merged: Record<string, unknown> = { ...builtIn };
  for (const [moduleName, part] of parts) {
    for (const [name, value] of Object.entries(part ?? {})) {
      if (name in merged) throw new ConfigError(`Module "${moduleName}" adds a ${kind} "${name}", a name already taken`);
      merged[name] = value;
    }
  }
  return merged;
}

/**
 * Checks the modules' names (they name SQL tables) and registers their events' streams and
 * channels (src/events/module-events.ts): a name the gateway or another module has fails the start.
 */
export function registerModules(modules: readonly GatewayModule[]): void {
  const names = modules.map((module) => module.name);
  const badName = names.find((name, index) => !/^[a-z][a-z0-9_]{0,40}$/.test(name) || names.indexOf(name) !== index);
  if (badName !== undefined) throw new ConfigError(`Module name "${badName}" is taken twice or not lower case letters, digits and _`);
  for (const module of modules) {
    try {
      if (module.events) registerModuleEvents(module.name, module.events);
    } catch (error) {
      throw new ConfigError(error instanceof Error ? error.message : String(error));
    }
  }
}
