// The cost model on the real schema, without a server: variables and argument defaults count like
// literals, and list fields multiply their selection by the items they ask for.
import { createPubSub } from '@graphql-yoga/subscription';
import { parse, type GraphQLSchema } from 'graphql';
import { operationCost } from '../../src/http/cost';
import { buildGatewaySchema } from '../../src/modules/schema';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildGatewaySchema(createPubSub() as never);
});

const costOf = (query: string, variables?: Record<string, unknown>) => operationCost(schema, { document: parse(query), variables });

it('multiplies a connection selection by `first` (each row: edges + node + id = 3)', () => {
  expect(costOf('{ products(first: 10) { edges { node { id } } } }')).toBe(1 + 10 * 3);
});

it('counts `first` from a variable exactly like the literal', () => {
  const literal = costOf('{ orders(first: 100) { edges { node { id user { orders(first: 100) { edges { node { id } } } } } } } }');
  const fromVariable = costOf('query ($n: Int) { orders(first: $n) { edges { node { id user { orders(first: $n) { edges { node { id } } } } } } } }', { n: 100 });
  expect(fromVariable).toBe(literal);
  expect(fromVariable).toBeGreaterThan(100 * 100);
});

it('counts an omitted `first` as the default page size, and a variable default as its value', () => {
  expect(costOf('{ products { edges { node { id } } } }')).toBe(costOf('{ products(first: 20) { edges { node { id } } } }'));
  expect(costOf('query ($n: Int = 50) { products(first: $n) { edges { node { id } } } }')).toBe(1 + 50 * 3);
});

it('clamps `first` beyond the page limit (the resolver refuses it with BAD_USER_INPUT)', () => {
  expect(costOf('{ products(first: 100000) { edges { node { id } } } }')).toBe(1 + 100 * 3);
});

it('counts order items as 10 lines and topProducts by `limit` (default 10)', () => {
  expect(costOf('{ order(id: "1") { items { quantity } } }')).toBe(1 + 1 + 10 * 1);
  expect(costOf('{ topProducts { unitsSold } }')).toBe(1 + 10 * 1);
});

it('leaves an operation whose variables do not coerce to execution (undefined)', () => {
  expect(costOf('query ($n: Int) { products(first: $n) { edges { node { id } } } }', { n: 'many' })).toBeUndefined();
});
