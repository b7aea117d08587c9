// Lua scripts live in scripts/*.lua, one per file, named verbNoun-<numberOfKeys> ("-n": any number,
// given per call). Each is registered once per connection with ioredis defineCommand, which sends
// EVALSHA and falls back to EVAL after a Redis restart emptied the script cache.
import fs from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';

const SCRIPTS_DIR = path.join(__dirname, 'scripts');

function readScript(name: string): string {
  return fs.readFileSync(path.join(SCRIPTS_DIR, `${name}.lua`), 'utf8');
}

/** Variadic commands: the caller passes the number of keys first, then keys, then arguments. */
type VariadicCommand = (numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Promise<unknown>;

export interface CacheScripts {
  readOrLease: VariadicCommand;
  writeLeased: VariadicCommand;
  invalidateEntries: VariadicCommand;
  fillUnchanged: VariadicCommand;
  peekEntries: VariadicCommand;
}

const CACHE_SCRIPTS: Record<keyof CacheScripts, string> = {
  readOrLease: 'readOrLease-n',
  writeLeased: 'writeLeased-n',
  invalidateEntries: 'invalidateEntries-n',
  fillUnchanged: 'fillUnchanged-n',
  peekEntries: 'peekEntries-n',
};

/** Registers the cache scripts on a connection; returns it typed with them. */
export function defineCacheScripts(redis: Redis): Redis & CacheScripts {
  for (const [command, file] of Object.entries(CACHE_SCRIPTS)) {
    redis.defineCommand(command, { lua: readScript(file) });
  }
  return redis as Redis & CacheScripts;
}
