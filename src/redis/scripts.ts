// Lua scripts live in scripts/*.lua, one per file, named verbNoun-<numberOfKeys> ("-n": any number,
// given per call). Each is registered once per connection with ioredis defineCommand, which sends
// EVALSHA and falls back to EVAL after a Redis restart emptied the script cache. What several
// scripts share (how a cache key's version is kept, how a lease is read) is written once, in
// scripts/includes/, and pulled in BullMQ-style by a line `--- @include "includes/<name>"`.
import fs from 'node:fs';
import path from 'node:path';
import type { RedisClient } from './client';

const SCRIPTS_DIR = path.join(__dirname, 'scripts');
const INCLUDE_LINE = /^--- @include "([\w/-]+)"$/gm;

/** A script's text with its includes inlined (each include once per script). */
export function readScript(name: string, included = new Set<string>()): string {
  const text = fs.readFileSync(path.join(SCRIPTS_DIR, `${name}.lua`), 'utf8');
  return text.replace(INCLUDE_LINE, (_line, include: string) => {
    if (included.has(include)) return '';
    included.add(include);
    return readScript(include, included).trimEnd();
  });
}

/** Variadic commands: the caller passes the number of keys first, then keys, then arguments. */
type VariadicCommand = (numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Promise<unknown>;

export interface CacheScripts {
  readOrLease: VariadicCommand;
  writeLeased: VariadicCommand;
  invalidateEntries: VariadicCommand;
  fillUnchanged: VariadicCommand;
  peekEntries: VariadicCommand;
  releaseLeases: VariadicCommand;
  readResponse: VariadicCommand;
  /** readResponse with the reply's strings as Buffers (ioredis adds a `…Buffer` variant of every command). */
  readResponseBuffer: VariadicCommand;
  /** On a Redis Cluster, a response lookup's per-type steps (readResponse cannot reach every type's slot). */
  readGenerations: VariadicCommand;
  checkResponseVersions: VariadicCommand;
  spendResponseBudget: VariadicCommand;
}

const CACHE_SCRIPTS: Record<Exclude<keyof CacheScripts, 'readResponseBuffer'>, string> = {
  readOrLease: 'readOrLease-n',
  writeLeased: 'writeLeased-n',
  invalidateEntries: 'invalidateEntries-n',
  fillUnchanged: 'fillUnchanged-n',
  peekEntries: 'peekEntries-n',
  releaseLeases: 'releaseLeases-n',
  readResponse: 'readResponse-n',
  readGenerations: 'readGenerations-n',
  checkResponseVersions: 'checkResponseVersions-1',
  spendResponseBudget: 'spendResponseBudget-2',
};

export interface EventScripts {
  publishEvent: VariadicCommand;
  adoptDatabase: VariadicCommand;
}

const EVENT_SCRIPTS: Record<keyof EventScripts, string> = { publishEvent: 'publishEvent-n', adoptDatabase: 'adoptDatabase-n' };

function defineScripts<Scripts>(redis: RedisClient, scripts: Record<string, string>): RedisClient & Scripts {
  for (const [command, file] of Object.entries(scripts)) {
    redis.defineCommand(command, { lua: readScript(file) });
  }
  return redis as RedisClient & Scripts;
}

/** Registers the cache scripts on a connection; returns it typed with them. */
export const defineCacheScripts = (redis: RedisClient) => defineScripts<CacheScripts>(redis, CACHE_SCRIPTS);

/** Registers the relay's publish script and the database binding on a connection. */
export const defineEventScripts = (redis: RedisClient) => defineScripts<EventScripts>(redis, EVENT_SCRIPTS);

export interface ProjectionScripts {
  applyTopProductsDelta: VariadicCommand;
  replaceTopProducts: VariadicCommand;
}

const PROJECTION_SCRIPTS: Record<keyof ProjectionScripts, string> = {
  applyTopProductsDelta: 'applyTopProductsDelta-3',
  replaceTopProducts: 'replaceTopProducts-3',
};

/** Registers the worker's projection scripts (top products) on a connection. */
export const defineProjectionScripts = (redis: RedisClient) => defineScripts<ProjectionScripts>(redis, PROJECTION_SCRIPTS);

/**
 * Every script's command name (its `…Buffer` variant has the same one). ioredis's auto-pipelining
 * routes a command on a Cluster by its first argument, which for a script is its number of keys,
 * not a key: scripts are sent on their own there (connection.ts), each to the master of its keys' slot.
 */
export const SCRIPT_COMMANDS: readonly string[] = [CACHE_SCRIPTS, EVENT_SCRIPTS, PROJECTION_SCRIPTS].flatMap((scripts) => Object.keys(scripts));
