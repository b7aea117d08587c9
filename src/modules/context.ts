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

export function createServices(deps: ServiceDeps) {
  const eventLoaders = new LRUCache<string, Loaders>({ max: 256, ttl: EVENT_LOADERS_TTL_MS });
  return {
    users: createUserService(deps),
    products: createProductService(deps),
    orders: createOrderService(deps),
    notifications: createNotificationService(deps),
    topProducts: createTopProductsService(deps),
    subscriptions: deps.subscriptions,
    /** Loaders for one request (or one subscription event). */
    newLoaders: () => createLoaders(deps.db, deps.cache),
    /**
     * Loaders shared by every local subscriber resolving the same live event: 5,000 subscribers
     * of a product read it once per event (and second), not 5,000 times; what they read is never
     * older than the event. Loaders only read data; what each subscriber may see is still decided
     * by the resolvers, with its own viewer.
     */
    loadersForEvent(eventId: string): Loaders {
      let loaders = eventLoaders.get(eventId);
      if (!loaders) eventLoaders.set(eventId, (loaders = createLoaders(deps.db, deps.cache)));
      return loaders;
    },
  };
}

export type Services = ReturnType<typeof createServices>;

/** Every loader reads through the cache: DataLoader (per request) → L1 → Redis → Postgres. */
export function createLoaders(db: Db, cache: CacheStore) {
  return { ...createUserLoaders(db, cache), ...createProductLoaders(db, cache), ...createOrderLoaders(db, cache) };
}

export type Loaders = ReturnType<typeof createLoaders>;

/** Every cache type the loaders read (whole responses record the generations of each). */
/**
 * Settings that name cache types (CACHE_TYPE_TTL_SECONDS, CACHE_L1_TYPES) must name these: a
 * misspelt name would silently configure nothing. Throws a ConfigError naming every unknown one.
 */
export function assertKnownCacheTypes(settings: Pick<Config, 'CACHE_TYPE_TTL_SECONDS' | 'CACHE_L1_TYPES'>): void {
  const known = new Set<string>(loaderCacheTypes.map((type) => type.name));
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
