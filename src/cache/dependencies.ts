// What one response was computed from: every cache key (an entity, or a list scope) its loaders
// read, each with the key's version as it was read in the same script as the value
// (readOrLease-n.lua, peekEntries-n.lua, fillUnchanged-n.lua). An invalidation deletes a key with
// its version, so while every recorded version is still in force nothing the response read has
// changed, and it may be served again (readResponse-1.lua checks exactly that, in one round trip).
// A write to another user's order, or to a product the response never read, leaves it valid.
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

export class ResponseDependencies {
  /** Versions by type key ("Product.v1"), then key id ("<id>!" for a volatile version), in the order first read. */
  private readonly versions = new Map<string, Map<string, string>>();
  private count = 0;
  private isUntracked = false;

  constructor(
    /** Type keys whose volatile part the document reads (it selects a field outside their stable fields). */
    private readonly readsVolatileOf: ReadonlySet<string> = new Set(),
  ) {}

  /**
   * Notes that the response read `keyId` of `type` while the key had `versions`: the volatile
   * one if the document reads the type's volatile part (it goes with any change), else the stable one.
   */
  add(type: string, keyId: string, versions: Versions): void {
    if (this.isUntracked) return;
    if (this.readsVolatileOf.has(type)) this.note(type, `${keyId}!`, versions.volatile);
    else this.note(type, keyId, versions.stable);
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
   * What the response is stored with ("<digest> <type>:<id>,<id>;<type>:<id>"), or null when it
   * must not be stored (untracked, or it read nothing through the cache).
   */
  header(): string | null {
    if (this.isUntracked || this.count === 0) return null;
    const groups: string[] = [];
    const versions: string[] = [];
    for (const [type, ofType] of this.versions) {
      groups.push(`${type}:${[...ofType.keys()].join(',')}`);
      versions.push(...ofType.values());
    }
    return `${createHash('sha1').update(versions.join(',')).digest('hex')} ${groups.join(';')}`;
  }
}
