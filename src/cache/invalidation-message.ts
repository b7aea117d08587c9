// The invalidation message every replica hears on the cache invalidation channel, sent by the
// event's publish script once the keys are deleted: one message per write, a line per cache type,
// "<type name>[!] <key id> <key id> ...". A "!" after the type name says the change touched only
// the type's volatile part (a product's stock): an L1, which holds whole entities, drops the keys
// either way; a live query that read only the stable fields (a product's name and price) need not
// run again. One message for the whole write lets a live query run once for it, with every key the
// write changed already known when it starts.

/** Type names and key ids contain no spaces, newlines or "!" (cache-type.ts names, numeric ids and scopes). */
const VOLATILE_ONLY = '!';

/** The keys of one cache type that a write made stale. */
export interface InvalidatedKeys {
  /** The cache type's name ("Product"). */
  type: string;
  keyIds: readonly string[];
  /** 'volatile': only the type's volatile part changed. */
  part?: 'volatile';
}

/** The message for one write's stale keys; null when there are none. */
export function encodeInvalidationMessage(invalidated: readonly InvalidatedKeys[]): string | null {
  if (invalidated.length === 0) return null;
  return invalidated.map(({ type, keyIds, part }) => [part === 'volatile' ? `${type}${VOLATILE_ONLY}` : type, ...keyIds].join(' ')).join('\n');
}

export function parseInvalidationMessage(message: string): InvalidatedKeys[] {
  return message.split('\n').flatMap((line) => {
    const [head, ...keyIds] = line.split(' ');
    if (!head) return [];
    const isVolatileOnly = head.endsWith(VOLATILE_ONLY);
    return [{ type: isVolatileOnly ? head.slice(0, -VOLATILE_ONLY.length) : head, keyIds, ...(isVolatileOnly && { part: 'volatile' as const }) }];
  });
}
