// The invalidation message every replica hears on the cache invalidation channel, sent by the
// event's publish script once the keys are deleted: "<type name>[!] <key id> <key id> ...". A "!"
// after the type name says the change touched only the type's volatile part (a product's stock):
// an L1, which holds whole entities, drops the keys either way; a live query that read only the
// stable fields (a product's name and price) need not run again.

/** A type name and key ids never contain spaces or "!" (cache-type.ts names, numeric ids and scopes). */
const VOLATILE_ONLY = '!';

export interface InvalidationMessage {
  /** The cache type's name ("Product"). */
  type: string;
  keyIds: string[];
  /** Only the type's volatile part changed. */
  isVolatileOnly: boolean;
}

export function encodeInvalidationMessage(type: string, keyIds: readonly string[], part?: 'volatile'): string {
  return [part === 'volatile' ? `${type}${VOLATILE_ONLY}` : type, ...keyIds].join(' ');
}

/** Null for a message without a type. */
export function parseInvalidationMessage(message: string): InvalidationMessage | null {
  const [head, ...keyIds] = message.split(' ');
  if (!head) return null;
  const isVolatileOnly = head.endsWith(VOLATILE_ONLY);
  return { type: isVolatileOnly ? head.slice(0, -VOLATILE_ONLY.length) : head, keyIds, isVolatileOnly };
}
