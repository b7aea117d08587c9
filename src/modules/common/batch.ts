// Helpers that keep DataLoader's contract: results in the order of the keys, one slot per key.

/** One row per key (or null when absent), in key order. */
export function orderedByKeys<Key, Row>(keys: readonly Key[], rows: Row[], keyOf: (row: Row) => Key): Array<Row | null> {
  const byKey = new Map<Key, Row>();
  for (const row of rows) byKey.set(keyOf(row), row);
  return keys.map((key) => byKey.get(key) ?? null);
}

/** All rows of each key (an empty list when none), in key order. */
export function groupedByKeys<Key, Row>(keys: readonly Key[], rows: Row[], keyOf: (row: Row) => Key): Row[][] {
  const byKey = new Map<Key, Row[]>();
  for (const row of rows) {
    const group = byKey.get(keyOf(row));
    if (group) group.push(row);
    else byKey.set(keyOf(row), [row]);
  }
  return keys.map((key) => byKey.get(key) ?? []);
}
