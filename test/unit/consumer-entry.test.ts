// What a consumer makes of a raw stream entry: an envelope it can hand to handlers, or a reason to
// dead-letter it at once (it would fail the same way on every delivery).
import { fieldsOf, isOfAnotherDatabase, parseStreamEntry } from '../../src/events/consumer-entry';

const envelope = {
  id: '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b',
  type: 'OrderPaid',
  version: 1,
  occurredAt: '2026-01-01T00:00:00.000Z',
  aggregate: { type: 'Order', id: '42' },
  data: { orderId: 42, userId: 7, status: 'PAID' },
};

const entryWith = (event: unknown) => ['database', 'db-1', 'eventId', '1', 'type', 'OrderPaid', 'event', typeof event === 'string' ? event : JSON.stringify(event)];

const reasonOf = (fields: string[]) => {
  const parsed = parseStreamEntry(fields);
  if (parsed.isValid) throw new Error('expected the entry to be refused');
  return parsed.reason;
};

describe('parseStreamEntry', () => {
  it('returns the envelope of a well-formed entry, as it was written', () => {
    expect(parseStreamEntry(entryWith(envelope))).toEqual({ isValid: true, event: envelope });
  });

  it('accepts an uppercase UUID and a type it does not know (handlers skip types they do not read)', () => {
    const event = { ...envelope, id: envelope.id.toUpperCase(), type: 'SomethingNew' };
    expect(parseStreamEntry(entryWith(event))).toEqual({ isValid: true, event });
  });

  it('reads the "event" field wherever it is, and its last value when it appears twice', () => {
    const other = { ...envelope, type: 'OrderShipped' };
    expect(parseStreamEntry(['event', JSON.stringify(envelope), 'type', 'x'])).toEqual({ isValid: true, event: envelope });
    expect(parseStreamEntry(['event', JSON.stringify(envelope), 'event', JSON.stringify(other)])).toEqual({ isValid: true, event: other });
  });

  it('does not take a field value named "event" for the field', () => {
    // Pairs are (name, value): here "event" is the value of "type", and no event field exists.
    expect(reasonOf(['type', 'event', JSON.stringify(envelope), 'x'])).toMatch(/no "event" field/);
  });

  it.each([
    ['no event field', ['database', 'db-1', 'type', 'OrderPaid'], /no "event" field/],
    ['a name without a value', ['database', 'db-1', 'event'], /no "event" field/],
    ['event that is not JSON', entryWith('{"id":'), /not JSON/],
    ['a JSON array', entryWith([envelope]), /not a JSON object/],
    ['JSON null', entryWith('null'), /not a JSON object/],
    ['a JSON string', entryWith('"OrderPaid"'), /not a JSON object/],
    ['no id', entryWith({ ...envelope, id: undefined }), /UUID "id"/],
    ['an id that is not a UUID', entryWith({ ...envelope, id: '42' }), /UUID "id"/],
    ['a UUID with a suffix', entryWith({ ...envelope, id: `${envelope.id}0` }), /UUID "id"/],
    ['a numeric id', entryWith({ ...envelope, id: 42 }), /UUID "id"/],
    ['an empty type', entryWith({ ...envelope, type: '' }), /no "type"/],
    ['a non-string type', entryWith({ ...envelope, type: 3 }), /no "type"/],
    ['a string version', entryWith({ ...envelope, version: '1' }), /numeric "version"/],
    ['no data', entryWith({ ...envelope, data: undefined }), /"data" object/],
    ['data that is an array', entryWith({ ...envelope, data: [1] }), /"data" object/],
    ['data that is null', entryWith({ ...envelope, data: null }), /"data" object/],
    ['no aggregate', entryWith({ ...envelope, aggregate: undefined }), /"aggregate" object/],
    ['an aggregate that is a string', entryWith({ ...envelope, aggregate: 'Order:42' }), /"aggregate" object/],
  ])('refuses an entry with %s, saying why', (_why, fields, reason) => {
    expect(reasonOf(fields as string[])).toMatch(reason);
  });
});

describe('fieldsOf', () => {
  it('pairs names with values, the last value winning, and ignores a trailing name', () => {
    expect(fieldsOf(['a', '1', 'b', '2', 'a', '3', 'c'])).toEqual({ a: '3', b: '2' });
  });
});

describe('isOfAnotherDatabase', () => {
  it("is true for another database's entry and false for this one's", () => {
    expect(isOfAnotherDatabase(['database', 'db-2', 'event', '{}'], 'db-1')).toBe(true);
    expect(isOfAnotherDatabase(['database', 'db-1', 'event', '{}'], 'db-1')).toBe(false);
  });

  it('takes an entry without a database field as this database\'s (written before identities existed)', () => {
    expect(isOfAnotherDatabase(['type', 'OrderPaid', 'event', '{}'], 'db-1')).toBe(false);
  });

  it("is true for the DatabaseReplaced boundary, even one carrying this database's identity", () => {
    expect(isOfAnotherDatabase(['database', 'db-1', 'type', 'DatabaseReplaced'], 'db-1')).toBe(true);
  });

  it('reads names only at name positions (a value "database" is not a field)', () => {
    expect(isOfAnotherDatabase(['aggregateType', 'database', 'db-2', 'x', 'database', 'db-1'], 'db-1')).toBe(false);
    expect(isOfAnotherDatabase(['note', 'type', 'DatabaseReplaced', 'x'], 'db-1')).toBe(false);
  });
});
