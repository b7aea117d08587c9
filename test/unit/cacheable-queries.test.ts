// Which documents the response cache may answer, and what their answers depend on, decided from
// the gateway's own schema (the modules' @Cacheable declarations) without Redis: unit tests of
// http/cacheable-query.ts and cache/dependencies.ts.
import { createHash } from 'node:crypto';
import type { GraphQLSchema } from 'graphql';
import { ResponseDependencies } from '../../src/cache/dependencies';
import { CacheableQueries } from '../../src/http/cacheable-query';
import { loaderCacheTypes } from '../../src/modules/context';
import { buildGatewaySchema } from '../../src/modules/schema';

let queries: CacheableQueries;
beforeAll(async () => {
  const schema: GraphQLSchema = await buildGatewaySchema();
  queries = new CacheableQueries(schema, 5000, loaderCacheTypes.filter((type) => type.volatilePart));
});

const decide = (query: string, variables?: unknown) => queries.canonicalRequest(query, undefined, variables);

describe('CacheableQueries', () => {
  it('caches documents whose root fields the modules declared, public only when all of them are', () => {
    expect(decide('{ product(id: "1") { name } products(first: 2) { edges { node { id } } } }')?.scope).toBe('public');
    expect(decide('{ product(id: "1") { name } me { id } }')?.scope).toBe('viewer');
    expect(decide('{ orders(first: 2) { edges { node { id } } } }')?.scope).toBe('viewer');
  });

  it('never caches undeclared root fields, declared ones with an excluded argument, mutations or subscriptions', () => {
    for (const query of [
      '{ notifications(first: 2) { edges { node { id } } } }',
      '{ topProducts { units } }',
      '{ products(first: 2, search: "a") { edges { node { id } } } }',
      'query ($s: String) { products(first: 2, search: $s) { edges { node { id } } } }',
      '{ __schema { types { name } } }',
      '{ ...F } fragment F on Query { product(id: "1") { id } }',
      'mutation { logout }',
      'subscription { serverTime }',
      '{ product(id: "1") { name } ',
    ]) {
      expect(decide(query)).toBeNull();
    }
  });

  it('reads the volatile part of Product exactly when a document selects a field outside its stable ones, fragments included', () => {
    const readsStock = (query: string) => decide(query)!.readsVolatileOf.has('Product.v1');
    expect(readsStock('{ product(id: "1") { id name priceCents } }')).toBe(false);
    expect(readsStock('{ orders(first: 2) { edges { node { items { product { name priceCents } } } } } }')).toBe(false);
    expect(readsStock('{ product(id: "1") { id stock } }')).toBe(true);
    expect(readsStock('{ product(id: "1") { updatedAt } }')).toBe(true);
    expect(readsStock('{ product(id: "1") { ...P } } fragment P on Product { name ... on Product { stock } }')).toBe(true);
    expect(readsStock('{ orders(first: 2) { edges { node { items { product { stock } } } } } }')).toBe(true);
  });

  it('keys equal requests alike: whitespace, comments, undeclared and differently typed variables do not matter', () => {
    const a = decide('query ($id: ID!) { product(id: $id) { name } }', { id: 2 });
    const b = decide('query ($id: ID!)   # a comment\n{ product(id: $id) { name } }', { id: '2', junk: { deep: [1, 2, 3] } });
    expect(a?.operation).toBe(b?.operation);
    expect(decide('query ($id: ID!) { product(id: $id) { name } }', { id: {} })).toBeNull();
  });
});

describe('CacheableQueries.canonicalRequestOfText', () => {
  const QUERY = 'query ($id: ID!) { product(id: $id) { name } }';
  const asText = (body: { query: string; variables?: unknown }) => [JSON.stringify(body), body] as const;

  it('gives a text the canonical form of its body, the same each time it comes again', () => {
    for (const id of ['1', '2']) {
      const [text, body] = asText({ query: QUERY, variables: { id } });
      const first = queries.canonicalRequestOfText(text, body);
      expect(first).toEqual(decide(QUERY, { id }));
      expect(queries.canonicalRequestOfText(text, body)).toBe(first);
    }
    const [mutation, mutationBody] = asText({ query: 'mutation { logout }' });
    expect(queries.canonicalRequestOfText(mutation, mutationBody)).toBeNull();
    expect(queries.canonicalRequestOfText(mutation, mutationBody)).toBeNull();
  });

  it('still canonicalizes a text too long to remember', () => {
    const [text, body] = asText({ query: `${QUERY}${' '.repeat(5000)}`, variables: { id: '3' } });
    expect(queries.canonicalRequestOfText(text, body)).toEqual(decide(QUERY, { id: '3' }));
  });
});

describe('ResponseDependencies', () => {
  const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

  it('records the stable version of a key, or the volatile one where the document reads it, per type with its generation, as readResponse-n.lua checks them', () => {
    const generations = new Map([
      ['Order.v1', { index: 0, generation: 'g-order' }],
      ['Product.v1', { index: 1, generation: 'g-product' }],
      ['Product.v1:stable', { index: 2, generation: 'g-product-stable' }],
    ]);
    const readsStock = new ResponseDependencies(new Set(['Product.v1']), generations);
    readsStock.add('Order.v1', '7', { stable: 'o7', volatile: '' });
    readsStock.add('Product.v1', '3', { stable: 'p3', volatile: 'p3!' });
    readsStock.add('Order.v1', '8', { stable: 'o8', volatile: '' });
    readsStock.add('Order.v1', '7', { stable: 'o7', volatile: '' });
    expect(readsStock.header()).toBe(`0|g-order|${sha1('o7,o8')}|Order.v1|7,8;1|g-product|${sha1('p3!')}|Product.v1|3!`);

    // Reading only names and prices, it is guarded by the generation of stable changes.
    const readsNames = new ResponseDependencies(new Set(), generations);
    readsNames.add('Product.v1', '3', { stable: 'p3', volatile: 'p3!' });
    expect(readsNames.header()).toBe(`2|g-product-stable|${sha1('p3')}|Product.v1|3`);

    // A type the lookup read no generation of is always checked version by version.
    const unknownType = new ResponseDependencies();
    unknownType.add('User.v1', '1', { stable: 'u1', volatile: '' });
    expect(unknownType.header()).toBe(`-1||${sha1('u1')}|User.v1|1`);
  });

  it('leaves out a key covered by one read before it (every invalidation of it invalidates the cover), and only then', () => {
    const scopeFirst = new ResponseDependencies();
    scopeFirst.add('OrderPages.v1', 'user-2', { stable: 's', volatile: '' });
    scopeFirst.add('Order.v1', '7', { stable: 'o7', volatile: '' }, [['OrderPages.v1', 'user-2']]);
    scopeFirst.add('OrderItems.v1', '7', { stable: 'i7', volatile: '' }, [['Order.v1', '7']]);
    expect(scopeFirst.header()).toBe(`-1||${sha1('s')}|OrderPages.v1|user-2`);

    // Read before its cover, a key is recorded: an invalidation in between would escape the cover's version.
    const orderFirst = new ResponseDependencies();
    orderFirst.add('Order.v1', '7', { stable: 'o7', volatile: '' }, [['OrderPages.v1', 'user-2']]);
    orderFirst.add('OrderPages.v1', 'user-2', { stable: 's', volatile: '' });
    expect(orderFirst.header()).toBe(`-1||${sha1('o7')}|Order.v1|7;-1||${sha1('s')}|OrderPages.v1|user-2`);
  });

  it('refuses to be stored when a key was seen at two versions, read without one, or read nothing', () => {
    const seenTwice = new ResponseDependencies();
    seenTwice.add('Order.v1', '7', { stable: 'a', volatile: '' });
    seenTwice.add('Order.v1', '7', { stable: 'b', volatile: '' });
    expect(seenTwice.header()).toBeNull();

    const untracked = new ResponseDependencies();
    untracked.add('Order.v1', '7', { stable: 'a', volatile: '' });
    untracked.untrack();
    expect(untracked.header()).toBeNull();

    const unsafeId = new ResponseDependencies();
    unsafeId.add('Order.v1', '7,8', { stable: 'a', volatile: '' });
    expect(unsafeId.header()).toBeNull();

    expect(new ResponseDependencies().header()).toBeNull();
  });
});
