// Depth and alias limits are validation rules shared by HTTP and the websocket. A refusal must be
// an ordinary validation error (reported, so the client gets 400 with every error), never a throw
// from inside validation (which servers answer as a crash).
import { buildSchema, parse, specifiedRules, validate } from 'graphql';
import { createValidationRules } from '../../src/http/limits';

const schema = buildSchema(`
  type Query { user(id: ID): User }
  type User { id: ID, name: String, friend: User }
`);

const rules = createValidationRules({ maxDepth: 3, maxAliases: 2 });
const errorsOf = (query: string) => validate(schema, parse(query), [...specifiedRules, ...rules]).map((error) => error.message);

it('lets an operation at the depth limit through and refuses one a level deeper', () => {
  expect(errorsOf('{ user { friend { id } } }')).toEqual([]);
  const errors = errorsOf('{ user { friend { friend { id } } } }');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/depth/i);
});

it('counts depth through fragments as if they were inlined', () => {
  expect(errorsOf('{ user { ...F } } fragment F on User { friend { friend { id } } }')).toHaveLength(1);
});

it('lets the allowed number of aliases through and refuses one more', () => {
  expect(errorsOf('{ a: user { id } b: user { id } }')).toEqual([]);
  const errors = errorsOf('{ a: user { id } b: user { id } c: user { name } }');
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/alias/i);
});

it('reports refusals as plain validation messages, without graphql-armor\'s "Syntax Error: " prefix', () => {
  const [message] = errorsOf('{ a: user { id } b: user { id } c: user { id } }');
  expect(message).not.toMatch(/^Syntax Error/);
});

it('reports a refusal together with the other validation errors instead of throwing', () => {
  let errors: string[] = [];
  expect(() => (errors = errorsOf('{ user { friend { friend { nope } } } }'))).not.toThrow();
  expect(errors.some((message) => /depth/i.test(message))).toBe(true);
  expect(errors.some((message) => /Cannot query field "nope"/.test(message))).toBe(true);
});
