// The database of a test gateway, taken from a snapshot: a template migrated and seeded once (the
// gateway's migrations, then each module's, then the small demo data set), of which every gateway
// gets a copy. On PGlite (the default) a copy is a new in-memory PGlite loaded from the template's
// dumped data directory, or one an earlier gateway of the process closed, with the snapshot's rows
// put back (pglite-copies.ts); with DATABASE_URL it is `CREATE DATABASE … TEMPLATE` on that server, a
// scratch database dropped again on close. Templates are kept between runs, named by a digest of
// what they are made of: only the first run after a migration (or seed) change pays for them.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { hashPassword } from '../auth/password';
import { migrationsFolder, openDatabase, type Database } from '../db/client';
import { mintDatabaseIdentity } from '../db/identity';
import { databaseIdentity } from '../db/schema';
import { seedDatabase, type SeedOptions } from '../db/seed';
import type { GatewayModule } from '../modules/context';
import { catalogDigest, putBack, reusesPgliteCopies, takeIdleCopy } from './pglite-copies';
import { processShared } from './process-shared';
import { adminQuery, databaseUrl } from './scratch-postgres';
import { restoreSnapshot, takeSnapshot } from './snapshot';

/** The data every snapshot starts with unless told otherwise: users 1-3 are the demo accounts (admin, alice, bob). */
export const SNAPSHOT_SEED = { users: 20, products: 30, orders: 200 } as const;

/** How much deterministic demo data a snapshot holds (src/db/seed.ts's sizes and PRNG seed). */
export type SnapshotSeed = Partial<Pick<SeedOptions, 'users' | 'products' | 'orders' | 'seed'>>;
/** Bump when what a template holds changes in a way its digest cannot see. */
const SNAPSHOT_FORMAT = 2;

export interface DatabaseCopy {
  database: Database;
  /** The PostgreSQL URL of the copy, for another process to connect to; null on PGlite. */
  url: string | null;
  /** Removes what close() of the database leaves (a scratch PostgreSQL database). */
  discard(): Promise<void>;
}

export interface DatabaseSource {
  kind: 'pglite' | 'postgres';
  /** A fresh copy of the migrated, seeded snapshot. */
  copy(): Promise<DatabaseCopy>;
}

/**
 * The migrated, seeded snapshot as plain data (a PGlite data directory's bytes, or the name of a
 * PostgreSQL template database), per process: the second test file of a Jest worker reuses the
 * first one's. A PGlite instance made in one test file cannot be cloned by another (Jest tears the
 * first file's module registry down, and PGlite's clone() imports lazily from it), but it can be
 * queried, which is how pglite-copies.ts reuses it.
 */
type PgliteTemplate = { kind: 'pglite'; dataDir: Uint8Array };
type PostgresTemplate = { kind: 'postgres'; baseUrl: string; name: string };
type Template = PgliteTemplate | PostgresTemplate;
const templates = processShared('databaseTemplates', () => new Map<string, Promise<Template>>());

/**
 * Copies of the snapshot for these modules and seed (one snapshot per process, module set and seed,
 * made on first use). With `seed` null, of the migrated database with no rows and no snapshot
 * (the project's own tests, which seed each file's copy as they need).
 */
export async function databaseSource(modules: readonly GatewayModule[], databaseUrl = process.env.DATABASE_URL, seed: SnapshotSeed | null = SNAPSHOT_SEED): Promise<DatabaseSource> {
  const template = await templateOf({ modules, seed: seed && { ...SNAPSHOT_SEED, ...seed } }, databaseUrl);
  return template.kind === 'pglite' ? pgliteSource(template, seed !== null && reusesPgliteCopies()) : postgresSource(template);
}

/** The template of a recipe, made on first use in this process (or found from an earlier one). */
function templateOf(recipe: Recipe, databaseUrl: string | undefined): Promise<Template> {
  const key = `${databaseUrl ?? 'pglite'}|${recipe.modules.map((module) => module.name).join(',')}|${JSON.stringify(recipe.seed)}`;
  let template = templates.get(key);
  if (!template) {
    template = databaseUrl ? postgresTemplate(databaseUrl, recipe) : pgliteTemplate(recipe);
    // A failed attempt (a typo in a migration) is not kept: the next test file tries again.
    template.catch(() => templates.delete(key));
    templates.set(key, template);
  }
  return template;
}

/** What a template is made of: the migrations of the gateway and these modules, then this seed and its snapshot (or neither). */
interface Recipe {
  modules: readonly GatewayModule[];
  seed: SnapshotSeed | null;
}

/** Migrates (nothing to do on a copy of the migrated template), then seeds and snapshots unless the recipe has no seed. */
async function migrateAndSeed(database: Database, { modules, seed }: Recipe): Promise<void> {
  await database.migrate();
  for (const module of modules) {
    if (module.migrationsFolder) await database.migrate({ folder: module.migrationsFolder, table: `__drizzle_migrations_${module.name}` });
  }
  if (!seed) return;
  await seedDatabase(database.db, { ...seed, hashPassword });
  await takeSnapshot(database.db);
}

/**
 * The PGlite template, from a file when an earlier process made the same one: a fresh PGlite runs
 * initdb (seconds), loading a data directory does not. The file's name is a digest of everything
 * the template is made of (the migrations' SQL, the seed's code and sizes, PGlite's version), so a
 * change to any of them makes a new file, never a stale template.
 */
async function pgliteTemplate(recipe: Recipe): Promise<Template> {
  const file = path.join(os.tmpdir(), 'streamgate-testing', `pglite-template-${templateDigest(recipe)}.tar`);
  try {
    return { kind: 'pglite', dataDir: new Uint8Array(await fs.promises.readFile(file)) };
  } catch {
    // Not made yet (or unreadable): made below.
  }
  const template = await newPgliteTemplate(recipe);
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  // Written aside, then renamed: a process reading it concurrently sees all of it or nothing.
  const partial = `${file}.${process.pid}.${randomBytes(3).toString('hex')}`;
  await fs.promises.writeFile(partial, template.dataDir);
  await fs.promises.rename(partial, file);
  return template;
}

function templateDigest({ modules, seed }: Recipe): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ seed, SNAPSHOT_FORMAT, pglite: pgliteVersion() }));
  hash.update(fs.readFileSync(require.resolve('../db/seed')));
  hash.update(fs.readFileSync(require.resolve('./snapshot')));
  for (const folder of [migrationsFolder, ...modules.flatMap((module) => (module.migrationsFolder ? [module.migrationsFolder] : []))]) {
    for (const name of fs.readdirSync(folder).filter((entry) => entry.endsWith('.sql')).sort()) {
      hash.update(name);
      hash.update(fs.readFileSync(path.join(folder, name)));
    }
  }
  return hash.digest('hex').slice(0, 16);
}

function pgliteVersion(): string {
  // Its package.json is not among its exports: found next to its entry point (dist/) instead.
  const manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * A new PGlite template: the migrated one runs initdb and the migrations; a seeded one starts from a
 * copy of the migrated one (no initdb: a test's own seed costs the seed, not seconds more).
 */
async function newPgliteTemplate(recipe: Recipe): Promise<{ kind: 'pglite'; dataDir: Uint8Array }> {
  const migrated = recipe.seed === null ? null : await templateOf({ modules: recipe.modules, seed: null }, undefined);
  const pglite = migrated?.kind === 'pglite' ? await PGlite.create({ loadDataDir: new Blob([migrated.dataDir as Uint8Array<ArrayBuffer>]) }) : await PGlite.create('memory://');
  const database = await openDatabase({ pglite });
  try {
    await migrateAndSeed(database, recipe);
    // A copy loaded from a dump runs PostgreSQL's start-up, whose progress timer (every 10 s, for
    // its log line) PGlite never stops: a copy kept open would keep the Jest process alive.
    await pglite.exec('alter system set log_startup_progress_interval = 0');
    const dump = await pglite.dumpDataDir('none');
    return { kind: 'pglite', dataDir: new Uint8Array(await dump.arrayBuffer()) };
  } finally {
    await database.close();
  }
}

/**
 * The PostgreSQL template, named by the same digest as the PGlite file: made once per server and
 * content (every later process and Jest worker copies it), never dropped by the kit, since a
 * process cannot know it is the last user. Made under a name of its own, then renamed: two
 * workers making it at once both succeed, one rename wins, the other drops its own.
 */
async function postgresTemplate(baseUrl: string, recipe: Recipe): Promise<Template> {
  const name = `streamgate_kit_template_${templateDigest(recipe)}`;
  const exists = await adminQuery(baseUrl, `select 1 from pg_database where datname = '${name}'`);
  if (exists.length > 0) return { kind: 'postgres', baseUrl, name };
  const making = `streamgate_kit_making_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(baseUrl, `create database ${making}`);
  const template = await openDatabase({ databaseUrl: databaseUrl(baseUrl, making), poolSize: 2 });
  try {
    await migrateAndSeed(template, recipe);
  } finally {
    // CREATE DATABASE … TEMPLATE refuses a template anyone is connected to.
    await template.close();
  }
  try {
    await adminQuery(baseUrl, `alter database ${making} rename to ${name}`);
  } catch (error) {
    await adminQuery(baseUrl, `drop database if exists ${making} with (force)`);
    if ((error as { code?: string }).code !== DUPLICATE_DATABASE) throw error;
  }
  return { kind: 'postgres', baseUrl, name };
}

function pgliteSource(template: PgliteTemplate, reuse: boolean): DatabaseSource {
  return {
    kind: 'pglite',
    async copy() {
      const idle = reuse ? takeIdleCopy(template) : undefined;
      const pglite = idle?.pglite ?? (await PGlite.create({ loadDataDir: new Blob([template.dataDir as Uint8Array<ArrayBuffer>]) }));
      const database = await openDatabase({ pglite });
      // A copy that served another test file gets the snapshot's rows back, and a new identity with them.
      if (idle) {
        await restoreSnapshot(database.db).catch(async (error: unknown) => {
          await pglite.close().catch(() => undefined);
          throw error;
        });
      }
      else await giveOwnIdentity(database);
      if (!reuse) return { database, url: null, discard: async () => undefined };
      const catalog = idle?.catalog ?? (await catalogDigest(pglite));
      return { database: { ...database, close: () => putBack(template, { pglite, catalog }) }, url: null, discard: async () => undefined };
    },
  };
}

function postgresSource(template: PostgresTemplate): DatabaseSource {
  return {
    kind: 'postgres',
    async copy() {
      const name = `streamgate_kit_${process.pid}_${randomBytes(4).toString('hex')}`;
      await adminQuery(template.baseUrl, `create database ${name} template ${template.name}`);
      const url = databaseUrl(template.baseUrl, name);
      const database = await openDatabase({ databaseUrl: url, poolSize: 5 });
      await giveOwnIdentity(database);
      return { database, url, discard: async () => void (await adminQuery(template.baseUrl, `drop database if exists ${name} with (force)`)) };
    },
  };
}

/**
 * A copy is another database, so it gets an identity of its own, first of its line: the template's
 * would be shared by every copy (and on PostgreSQL names another database's oid, which the app
 * would take for a restore).
 */
async function giveOwnIdentity(database: Database): Promise<void> {
  await database.db.delete(databaseIdentity);
  await mintDatabaseIdentity(database.db);
}

/** Another process made the same template first. */
const DUPLICATE_DATABASE = '42P04';
