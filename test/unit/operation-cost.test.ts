// The cost model on the real schema, without a server: variables and argument defaults count like
// literals, and list fields multiply their selection by the items they ask for. Then the gate that
// applies it: the maximum per operation and a (fake) per-subject budget, and the HTTP statuses.
import { getOperationAST, GraphQLError, parse, type GraphQLSchema } from 'graphql';
import { costGatePlugin, createCostGate, operationCost, variablesThatSizeTheCost, type CostGate } from '../../src/http/cost';
import { rateLimited, type CostBudget } from '../../src/http/cost-budget';
import { buildGatewaySchema } from '../../src/modules/schema';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildGatewaySchema();
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

it('costs the operation named by operationName, and nothing for a name the document lacks', () => {
  const document = 'query Small { me { id } } query Large { products(first: 50) { edges { node { id } } } }';
  expect(operationCost(schema, { document: parse(document), operationName: 'Small' })).toBe(2);
  expect(operationCost(schema, { document: parse(document), operationName: 'Large' })).toBe(1 + 50 * 3);
  expect(operationCost(schema, { document: parse(document), operationName: 'Missing' })).toBeUndefined();
  // Two operations and no name: which one would run is not known, so neither is costed.
  expect(operationCost(schema, { document: parse(document) })).toBeUndefined();
});

/** A product selecting 3 fields through `level` levels of fragments, each spreading the one below 10 times. */
function fanOut(level: number): string {
  const fragments = ['fragment L0 on Product { id name sku }'];
  for (let at = 1; at <= level; at += 1) fragments.push(`fragment L${at} on Product { ${Array.from({ length: 10 }, () => `...L${at - 1}`).join(' ')} }`);
  return `{ product(id: "1") { ...L${level} } } ${fragments.join(' ')}`;
}

it('counts a fragment once per spread, and refuses outright (Infinity) a document that fans out past 10000 fields', () => {
  expect(costOf(fanOut(2))).toBe(1 + 100 * 3);
  expect(costOf(fanOut(4))).toBe(Infinity);
});

it('names the variables the cost depends on: list sizes (in fragments too) and @skip/@include, not the others', () => {
  const sizing = (query: string) => variablesThatSizeTheCost(schema, parse(query)).sort();
  expect(sizing('mutation ($input: PlaceOrderInput!) { placeOrder(input: $input) { id items { product { id stock } } } }')).toEqual([]);
  expect(sizing('query ($id: ID!, $n: Int) { product(id: $id) { id } ...Page } fragment Page on Query { products(first: $n) { edges { node { id } } } }')).toEqual(['n']);
  expect(sizing('query ($id: ID!, $withName: Boolean!) { product(id: $id) { id name @include(if: $withName) } }')).toEqual(['withName']);
});

describe('the cost gate', () => {
  /** A budget that records what it is asked to spend, and refuses when told to. */
  function fakeBudget(refusal?: Error) {
    const spent: Array<[string, number]> = [];
    const budget: CostBudget = {
      spend: async (subject, cost) => {
        if (refusal) throw refusal;
        spent.push([subject, cost]);
      },
      charge: async () => undefined,
    };
    return { budget, spent };
  }

  const page = (first: number) => ({ document: parse(`{ products(first: ${first}) { edges { node { id } } } }`) });

  it('admits an operation at the maximum, spending its cost from the subject', async () => {
    const { budget, spent } = fakeBudget();
    const outcomes: string[] = [];
    const gate = createCostGate({ schema, maxCost: 1 + 20 * 3, budget, onCost: (cost, outcome) => outcomes.push(`${outcome} ${cost}`) });
    await expect(gate.admit(page(20), 'viewer:1')).resolves.toBe(61);
    expect(spent).toEqual([['viewer:1', 61]]);
    expect(outcomes).toEqual(['admitted 61']);
  });

  it('refuses an operation over the maximum with GRAPHQL_VALIDATION_FAILED, saying by how much, and spends nothing', async () => {
    const { budget, spent } = fakeBudget();
    const outcomes: string[] = [];
    const gate = createCostGate({ schema, maxCost: 60, budget, onCost: (cost, outcome) => outcomes.push(`${outcome} ${cost}`) });
    await expect(gate.admit(page(20), 'viewer:1')).rejects.toEqual(
      expect.objectContaining({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED', cost: 61, maxCost: 60 } }),
    );
    expect(spent).toEqual([]);
    expect(outcomes).toEqual(['too-costly 61']);
  });

  it('refuses a document beyond counting with cost null (not Infinity, which JSON cannot carry)', async () => {
    const gate = createCostGate({ schema, maxCost: 20_000 });
    const document = parse(fanOut(4));
    const refusal = await gate.admit({ document }, 'viewer:1').catch((error: GraphQLError) => error);
    expect(refusal).toBeInstanceOf(GraphQLError);
    expect((refusal as GraphQLError).extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', cost: null, maxCost: 20_000 });
    expect((refusal as GraphQLError).message).toMatch(/beyond counting/);
  });

  it("passes the budget's RATE_LIMITED refusal on unchanged", async () => {
    const refusal = rateLimited(12);
    const { budget } = fakeBudget(refusal);
    const outcomes: string[] = [];
    const gate = createCostGate({ schema, maxCost: 20_000, budget, onCost: (_cost, outcome) => outcomes.push(outcome) });
    await expect(gate.admit(page(5), 'anon:10.0.0.1')).rejects.toBe(refusal);
    expect(outcomes).toEqual(['rate-limited']);
  });

  // The gate remembers a document's cost by the values of the variables that size it.
  it('costs the same document again when a variable that sizes it changes, and after variables that did not coerce', async () => {
    const { budget, spent } = fakeBudget();
    const gate = createCostGate({ schema, maxCost: 20_000, budget });
    const document = parse('query ($id: ID!, $n: Int, $all: Boolean!) { product(id: $id) { id } products(first: $n) @include(if: $all) { edges { node { id } } } }');
    await gate.admit({ document, variables: { id: '1', n: 10, all: true } }, 'viewer:1');
    await gate.admit({ document, variables: { id: '2', n: 10, all: true } }, 'viewer:1');
    await gate.admit({ document, variables: { id: '2', n: 50, all: true } }, 'viewer:1');
    await gate.admit({ document, variables: { id: '2', n: 50, all: false } }, 'viewer:1');
    await expect(gate.admit({ document, variables: { id: { not: 'an id' }, n: 10, all: true } }, 'viewer:1')).resolves.toBeUndefined();
    expect(spent.map(([, cost]) => cost)).toEqual([2 + 1 + 10 * 3, 2 + 1 + 10 * 3, 2 + 1 + 50 * 3, 2]);

    const fresh = createCostGate({ schema, maxCost: 20_000 });
    const other = parse('query ($id: ID!, $n: Int) { product(id: $id) { id } products(first: $n) { edges { node { id } } } }');
    await expect(fresh.admit({ document: other, variables: { id: [], n: 10 } }, 'viewer:1')).resolves.toBeUndefined();
    await expect(fresh.admit({ document: other, variables: { id: '1', n: 10 } }, 'viewer:1')).resolves.toBe(2 + 1 + 10 * 3);
  });

  it('leaves an operation it cannot cost (variables that do not coerce) to execution, spending nothing', async () => {
    const { budget, spent } = fakeBudget();
    const gate = createCostGate({ schema, maxCost: 1, budget });
    const operation = { document: parse('query ($n: Int) { products(first: $n) { edges { node { id } } } }'), variables: { n: 'many' } };
    await expect(gate.admit(operation, 'viewer:1')).resolves.toBeUndefined();
    expect(spent).toEqual([]);
  });

  describe('over HTTP (costGatePlugin)', () => {
    async function refusalOf(gate: CostGate, query: string): Promise<GraphQLError | undefined> {
      const plugin = costGatePlugin<{ subject: string }>(gate, (context) => context.subject);
      const listener = await plugin.requestDidStart!({} as never);
      const document = parse(query);
      const requestContext = { document, operation: getOperationAST(document), operationName: null, request: { variables: {} }, contextValue: { subject: 'viewer:1' } };
      try {
        await (listener as { didResolveOperation(context: unknown): Promise<void> }).didResolveOperation(requestContext);
        return undefined;
      } catch (error) {
        return error as GraphQLError;
      }
    }

    it('answers a too costly operation with HTTP 400', async () => {
      const refusal = await refusalOf(createCostGate({ schema, maxCost: 10 }), '{ products(first: 20) { edges { node { id } } } }');
      expect(refusal!.extensions).toEqual(expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED', cost: 61, maxCost: 10, http: { status: 400 } }));
    });

    it('answers a spent budget with HTTP 429 and Retry-After', async () => {
      const gate = createCostGate({ schema, maxCost: 20_000, budget: fakeBudget(rateLimited(7)).budget });
      const refusal = await refusalOf(gate, '{ me { id } }');
      const http = refusal!.extensions.http as { status: number; headers: Map<string, string> };
      expect(refusal!.extensions.code).toBe('RATE_LIMITED');
      expect(http.status).toBe(429);
      expect(http.headers.get('retry-after')).toBe('7');
    });

    it('spends nothing on a subscription sent over HTTP (another plugin refuses it)', async () => {
      const { budget, spent } = fakeBudget();
      const refusal = await refusalOf(createCostGate({ schema, maxCost: 1, budget }), 'subscription { serverTime }');
      expect(refusal).toBeUndefined();
      expect(spent).toEqual([]);
    });
  });
});
