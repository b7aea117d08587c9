// Stream ids are subscription cursors: they must order like Redis orders them (ms, then seq, both
// unsigned 64-bit), which neither string comparison nor Number arithmetic does.
import { compareStreamIds, normalizeStreamId, STREAM_START } from '../../src/subscriptions/stream-ids';

const MAX_U64 = '18446744073709551615';

describe('compareStreamIds', () => {
  it('orders by sequence within the same millisecond', () => {
    expect(compareStreamIds('1700000000000-1', '1700000000000-2')).toBeLessThan(0);
    expect(compareStreamIds('1700000000000-2', '1700000000000-1')).toBeGreaterThan(0);
    expect(compareStreamIds('1700000000000-7', '1700000000000-7')).toBe(0);
  });

  it('orders by milliseconds first, whatever the sequence', () => {
    expect(compareStreamIds('2-0', '1-999999')).toBeGreaterThan(0);
    expect(compareStreamIds('1-999999', '2-0')).toBeLessThan(0);
  });

  it('compares numerically, not as strings (9 < 10 in both parts)', () => {
    expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('5-9', '5-10')).toBeLessThan(0);
    expect(compareStreamIds('100-0', '99-5')).toBeGreaterThan(0);
  });

  it('tells apart parts that are equal as floats (beyond 2^53)', () => {
    // Number('9007199254740993') === Number('9007199254740992'): a float comparison calls these equal.
    expect(compareStreamIds('9007199254740993-0', '9007199254740992-0')).toBeGreaterThan(0);
    expect(compareStreamIds('1-9007199254740993', '1-9007199254740992')).toBeGreaterThan(0);
    expect(compareStreamIds(`1-${MAX_U64}`, '1-18446744073709551614')).toBeGreaterThan(0);
    expect(compareStreamIds(`${MAX_U64}-0`, `${MAX_U64}-0`)).toBe(0);
  });

  it('puts STREAM_START before every real entry', () => {
    expect(compareStreamIds(STREAM_START, '0-1')).toBeLessThan(0);
    expect(compareStreamIds('1-0', STREAM_START)).toBeGreaterThan(0);
    expect(compareStreamIds(STREAM_START, '0-0')).toBe(0);
  });

  it('is antisymmetric over a sorted sample', () => {
    const sorted = ['0-0', '0-1', '1-0', '1-9', '1-10', '9-0', '10-0', '9007199254740992-0', '9007199254740993-0', `${MAX_U64}-${MAX_U64}`];
    for (let i = 0; i < sorted.length; i += 1) {
      for (let j = 0; j < sorted.length; j += 1) {
        expect(Math.sign(compareStreamIds(sorted[i]!, sorted[j]!))).toBe(Math.sign(i - j));
      }
    }
  });
});

describe('normalizeStreamId', () => {
  it('returns the canonical form (leading zeros dropped)', () => {
    expect(normalizeStreamId('0042-0007')).toBe('42-7');
    expect(normalizeStreamId('1700000000000-0')).toBe('1700000000000-0');
    expect(normalizeStreamId('0-0')).toBe('0-0');
  });

  it('keeps both parts exact up to 2^64 - 1', () => {
    expect(normalizeStreamId(`${MAX_U64}-${MAX_U64}`)).toBe(`${MAX_U64}-${MAX_U64}`);
    expect(normalizeStreamId('9007199254740993-9007199254740993')).toBe('9007199254740993-9007199254740993');
  });

  it('refuses parts beyond 64 bits (Redis could never have made them)', () => {
    expect(normalizeStreamId('18446744073709551616-0')).toBeNull();
    expect(normalizeStreamId('0-18446744073709551616')).toBeNull();
    expect(normalizeStreamId('99999999999999999999-0')).toBeNull();
    expect(normalizeStreamId('123456789012345678901-0')).toBeNull();
  });

  it.each([
    ['empty', ''],
    ['no sequence', '1700000000000'],
    ['empty sequence', '1-'],
    ['empty milliseconds', '-1'],
    ['negative', '-1-0'],
    ['three parts', '1-2-3'],
    ['letters', 'abc-def'],
    ['hex', '0x10-0'],
    ['a sign', '+1-0'],
    ['a fraction', '1.5-0'],
    ['an exponent', '1e3-0'],
    ['surrounding spaces', ' 1-0 '],
    ['a trailing newline', '1-0\n'],
    ['a Redis range token', '+'],
    ['an exclusive range start', '(1-0'],
    ['a wildcard sequence', '1-*'],
    ['non-ASCII digits', '١-٢'],
  ])('refuses a malformed id (%s)', (_why, value) => {
    expect(normalizeStreamId(value)).toBeNull();
  });
});
