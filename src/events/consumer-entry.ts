// What a consumer reads from a domain stream: the entry's flat field list (database, eventId, type,
// aggregateType, aggregateId, event; see docs/events.md) and the envelope parsed from `event`.
import type { DomainEvent } from './event-types';

/** A stream entry as XREADGROUP and XAUTOCLAIM return it: its id and its fields, flattened. */
export type RawStreamEntry = [streamId: string, fields: string[]];

export type ParsedEntry = { isValid: true; event: DomainEvent } | { isValid: false; reason: string };

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The entry's fields as an object (a field that appears twice keeps its last value). */
export function fieldsOf(fields: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  return record;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks the envelope's shape, not its `data` (each handler reads the types it knows). An entry
 * that fails here never will succeed, so the runner dead-letters it at once.
 */
export function parseStreamEntry(fields: readonly string[]): ParsedEntry {
  const { event: json } = fieldsOf(fields);
  if (json === undefined) return { isValid: false, reason: 'the entry has no "event" field' };
  let envelope: unknown;
  try {
    envelope = JSON.parse(json);
  } catch (error) {
    return { isValid: false, reason: `"event" is not JSON (${(error as Error).message})` };
  }
  if (!isObject(envelope)) return { isValid: false, reason: '"event" is not a JSON object' };
  const { id, type, version, data, aggregate } = envelope;
  if (typeof id !== 'string' || !UUID_PATTERN.test(id)) return { isValid: false, reason: 'the envelope has no UUID "id"' };
  if (typeof type !== 'string' || type === '') return { isValid: false, reason: 'the envelope has no "type"' };
  if (typeof version !== 'number') return { isValid: false, reason: 'the envelope has no numeric "version"' };
  if (!isObject(data)) return { isValid: false, reason: 'the envelope has no "data" object' };
  if (!isObject(aggregate)) return { isValid: false, reason: 'the envelope has no "aggregate" object' };
  return { isValid: true, event: envelope as unknown as DomainEvent };
}

/**
 * Whether an entry belongs to another database than `database`: the boundary adoptDatabase-n.lua
 * writes when Redis is bound to a new database (type DatabaseReplaced), or an event published from
 * an old one. Entries without a `database` field (written before identities existed, or by hand)
 * are taken as this database's.
 */
export function isOfAnotherDatabase(fields: readonly string[], database: string): boolean {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'type' && fields[i + 1] === 'DatabaseReplaced') return true;
    if (fields[i] === 'database' && fields[i + 1] !== database) return true;
  }
  return false;
}
