// The websocket's size check walks a result instead of serializing it: it must agree with
// JSON.stringify about which side of the limit a value is on, give or take the walk's small
// overestimate of punctuation, and stop early on a huge value.
import { exceedsJsonBytes } from '../../src/http/response-size';

const sized = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

it('finds values over the limit and lets values well under it through', () => {
  const page = { data: { products: { edges: Array.from({ length: 50 }, (_, id) => ({ node: { id: String(id), name: `Lamp ${id}`, stock: id } })) } } };
  const size = sized(page);
  expect(exceedsJsonBytes(page, size - 1)).toBe(true);
  expect(exceedsJsonBytes(page, Math.ceil(size * 1.5))).toBe(false);
  expect(exceedsJsonBytes({ data: null }, 100)).toBe(false);
});

it('counts strings in UTF-8 bytes, not characters', () => {
  const wide = { name: '€'.repeat(100) };
  expect(sized(wide)).toBeGreaterThan(300);
  expect(exceedsJsonBytes(wide, 250)).toBe(true);
});

it('stops walking once over the limit (a value far larger than the limit costs about the limit)', () => {
  let visited = 0;
  const rows = new Proxy(Array.from({ length: 100_000 }, (_, id) => ({ id })), {
    get(target, property, receiver) {
      if (property === Symbol.iterator) visited += 1;
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  expect(exceedsJsonBytes({ rows: [rows, rows, rows] }, 1000)).toBe(true);
  // Found over by its length alone: not one of the arrays is iterated.
  expect(visited).toBe(0);
});
