// What travels with each operation: the viewer, the per-request loaders (never shared between
// requests, so one user's batch never serves another's), and the long-lived services.
import type { CacheStore } from '../cache/cache-store';
import type { Db } from '../db/client';
import type { LoginLimiter } from '../auth/login-limiter';
import type { SessionStore } from '../auth/session.store';
import type { RequestInfo, Viewer } from '../auth/viewer';
import { createProductLoaders } from './catalog/product.loader';
import { createProductService } from './catalog/product.service';
import { createOrderLoaders } from './orders/order.loader';
import { createUserLoaders } from './users/user.loader';
import { createUserService } from './users/user.service';

export interface ServiceDeps {
  db: Db;
  cache: CacheStore;
  sessions: SessionStore;
  loginLimiter: LoginLimiter;
}

export function createServices(deps: ServiceDeps) {
  return {
    users: createUserService(deps),
    products: createProductService(deps),
  };
}

export type Services = ReturnType<typeof createServices>;

/** Every loader reads through the cache: DataLoader (per request) → L1 → Redis → Postgres. */
export function createLoaders(db: Db, cache: CacheStore) {
  return { ...createUserLoaders(db, cache), ...createProductLoaders(db, cache), ...createOrderLoaders(db, cache) };
}

export type Loaders = ReturnType<typeof createLoaders>;

export interface GatewayContext extends RequestInfo {
  viewer: Viewer | null;
  /** The bearer token of this request, for logout. */
  sessionToken: string | null;
  loaders: Loaders;
  services: Services;
}
