// Last-Event-ID becomes the subscription's `after` by rewriting the document (resume-after.ts): the
// header replaces whatever `after` the URL carried (a literal or a variable), only on a root field
// that takes `after`, and leaves everything else alone.
import { buildSchema, parse, print } from 'graphql';
import { resumeAfterCursor } from '../../src/http/resume-after';

const schema = buildSchema(`
  type Query { ok: Boolean }
  type Event { cursor: String! }
  type Subscription {
    changed(id: ID!, after: String): Event!
    clock: String!
  }
`);

const resumed = (query: string, operationName?: string) => print(resumeAfterCursor(schema, parse(query), operationName, '1700000000000-3'));
const printed = (query: string) => print(parse(query));

describe('resumeAfterCursor', () => {
  it('adds `after` to a root field that takes it', () => {
    expect(resumed('subscription { changed(id: "1") { cursor } }')).toBe(printed('subscription { changed(id: "1", after: "1700000000000-3") { cursor } }'));
  });

  it('replaces the `after` of the document, literal or variable: the header is newer', () => {
    expect(resumed('subscription { changed(id: "1", after: "1-0") { cursor } }')).toBe(printed('subscription { changed(id: "1", after: "1700000000000-3") { cursor } }'));
    expect(resumed('subscription ($after: String) { changed(after: $after, id: "1") { cursor } }')).toBe(
      printed('subscription ($after: String) { changed(id: "1", after: "1700000000000-3") { cursor } }'),
    );
  });

  it('keeps the alias and touches only the operation that runs', () => {
    const query = 'subscription A { c: changed(id: "1") { cursor } } subscription B { changed(id: "2") { cursor } }';
    expect(resumed(query, 'B')).toBe(printed('subscription A { c: changed(id: "1") { cursor } } subscription B { changed(id: "2", after: "1700000000000-3") { cursor } }'));
  });

  it('leaves fields without `after`, queries and fragment-spread roots as they are', () => {
    for (const query of ['subscription { clock }', '{ ok }', 'subscription { ...F } fragment F on Subscription { changed(id: "1") { cursor } }']) {
      expect(resumed(query)).toBe(printed(query));
    }
  });
});
