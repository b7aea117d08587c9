// What one response was computed from: every cache key (an entity, or a list scope) its loaders
// read, each with the key's version as it was read in the same script as the value
// (readOrLease-n.lua, peekEntries-n.lua, fillUnchanged-n.lua). An invalidation deletes a key's
// version, so while every recorded version is still in force nothing the response read has
// changed, and it may be served again (readResponse-n.lua checks exactly that, in one round trip).
// A write to another user's order, or to a product the response never read, leaves it valid.
//
// The check is cheap when nothing of a type changed at all: each type's dependencies are stored
// with the type's generation as the lookup read it, before any loader ran (every invalidation of
// the type replaces it). While it is unchanged, none of them can have changed; only the types
// whose generation moved have their versions compared, one HMGET each.
//
// A read the cache could not version (Redis did not answer, a lease wait ran out and read Postgres,
// an L1 hit, a fill refused because its type moved) makes the response untracked: it is answered,
// never stored. So is a key seen at two versions within one request (it was invalidated meanwhile).
import { createHash } from 'node:crypto';
import type { Versions } from './cache-type';

/** Key ids and type keys the stored header can carry unambiguously (and Lua split again). */
const HEADER_SAFE = /^[A-Za-z0-9._-]+!?$/;
/** More dependencies than this: the response is not stored (its hit would cost too much to check). */
export const MAX_DEPENDENCIES = 2000;

/** The generations the lookup read: the slot of each ("<type>", any change; "<type>:stable") and its token. */
export type GenerationsAtStart = ReadonlyMap<string, { index: number; generation: string }>;

export class ResponseDependencies {
  /** Versions by type key ("Product.v1"), then key id ("<id>!" for a volatile version), in the order first read. */
  private readonly versions = new Map<string, Map<string, string>>();
  /** Keys not recorded because a key read before them covers them ("<type> <key id>"). */
  private readonly covered = new Set<string>();
  private count = 0;
  private isUntracked = false;

  constructor(
    /** Type keys whose volatile part the document reads (it selects a field outside their stable fields). */
    protected readonly readsVolatileOf: ReadonlySet<string> = new Set(),
    private readonly generations: GenerationsAtStart = new Map(),
  ) {}

  /**
   * Notes that the response read `keyId` of `type` while the key had `versions`: the volatile
   * one if the document reads the type's volatile part (it goes with any change), else the stable one.
   */
  add(type: string, keyId: string, versions: Versions, coveredBy: ReadonlyArray<readonly [string, string]> = []): void {
    if (this.isUntracked) return;
    if (this.readsVolatileOf.has(type)) return this.note(type, `${keyId}!`, versions.volatile);
    // Read after a key whose version goes with every invalidation of this one: nothing to add.
    if (coveredBy.some(([coverType, coverKeyId]) => this.isRead(coverType, coverKeyId))) {
      this.covered.add(`${type} ${keyId}`);
      return;
    }
    this.note(type, keyId, versions.stable);
  }

  private isRead(type: string, keyId: string): boolean {
    return this.versions.get(type)?.has(keyId) || this.covered.has(`${type} ${keyId}`);
  }

  private note(type: string, keyId: string, version: string): void {
    if (!version || !HEADER_SAFE.test(type) || !HEADER_SAFE.test(keyId)) return this.untrack();
    let ofType = this.versions.get(type);
    if (!ofType) this.versions.set(type, (ofType = new Map()));
    const known = ofType.get(keyId);
    if (known === undefined) {
      ofType.set(keyId, version);
      if ((this.count += 1) > MAX_DEPENDENCIES) this.untrack();
    } else if (known !== version) {
      this.untrack();
    }
  }

  /** Something was read that no version guards: the response must not be stored. */
  untrack(): void {
    this.isUntracked = true;
  }

  /**
   * What the response is stored with, or null when it must not be stored (untracked, or it read
   * nothing through the cache): one group per type, ";"-separated, each
   * "<generation slot>|<generation>|<SHA-1 of the versions joined by ','>|<type>|<key id>,<key id>,..."
   * (slot -1 when the lookup read no generation for it: its versions are always compared).
   */
  header(): string | null {
    if (this.isUntracked || this.count === 0) return null;
    const groups: string[] = [];
    for (const [type, ofType] of this.versions) {
      // A document that reads only the stable part is guarded by the generation of stable changes.
      const slot = (!this.readsVolatileOf.has(type) && this.generations.get(`${type}:stable`)) || this.generations.get(type);
      const digest = createHash('sha1').update([...ofType.values()].join(',')).digest('hex');
      groups.push(`${slot?.index ?? -1}|${slot?.generation ?? ''}|${digest}|${type}|${[...ofType.keys()].join(',')}`);
    }
    return groups.join(';');
  }
}

/** One type's group of a stored header, as `ResponseDependencies.header()` writes it. */
export interface HeaderGroup {
  /** The generation's slot in a lookup's generations, -1 for none. */
  slot: number;
  generation: string;
  /** SHA-1 of the versions, joined by ','. */
  digest: string;
  typeKey: string;
  /** Key ids, "<id>!" for a volatile version. */
  keyIds: string[];
}

/** The groups of a stored header; null when it is not one `header()` wrote. */
export function parseHeader(header: string): HeaderGroup[] | null {
  const groups: HeaderGroup[] = [];
  for (const group of header.split(';')) {
    const parts = group.split('|');
    if (parts.length !== 5 || !parts[3] || !parts[4]) return null;
    const [slot, generation, digest, typeKey, keyIds] = parts as [string, string, string, string, string];
    groups.push({ slot: Number(slot), generation, digest, typeKey, keyIds: keyIds.split(',') });
  }
  return groups;
}
