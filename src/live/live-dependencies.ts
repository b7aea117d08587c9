// What one execution of a live query read, as the live query store indexes it: every cache key
// (type key and key id) its loaders recorded, whatever its version, and whether some read went
// around the recorder (an L1 hit, a held key, the cache off or unreachable), in which case the key
// list is incomplete and the store re-executes the query on any invalidation instead, until an
// execution records everything again.
import type { Versions } from '../cache/cache-type';
import { ResponseDependencies } from '../cache/dependencies';

export class LiveDependencies extends ResponseDependencies {
  /**
   * "<type key> <key id>", with a "!" after the key id when the query reads the type's volatile part
   * (then a change to only that part concerns it; else only a change to the whole key does).
   */
  readonly keys = new Set<string>();
  /** Whether a read was not recorded (the keys are then not all the query depends on). */
  isIncomplete = false;

  override add(type: string, keyId: string, versions: Versions, coveredBy?: ReadonlyArray<readonly [string, string]>): void {
    // Covered keys too: an invalidation message names the key it changed, not the key covering it.
    this.keys.add(`${type} ${keyId}${this.readsVolatileOf.has(type) ? '!' : ''}`);
    super.add(type, keyId, versions, coveredBy);
  }

  // Also called when a key was seen at two versions or there were too many: those keys are all
  // listed, but telling the cases apart is not worth it; the fallback is only coarser, never wrong.
  override untrack(): void {
    this.isIncomplete = true;
    super.untrack();
  }
}
