// Identical subscriptions execute a live event once (SharedEventResults), with a small schema and
// hand-made source streams: the same live event for two identical subscriptions runs the resolver
// once and both get that result; another viewer, other variables, a replayed event or a
// subscription prepared without a shape each run their own.
import { buildSchema, GraphQLError, parse, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { SharedEventResults, type SubscriptionShape } from '../../src/http/shared-event-results';
import type { StreamEvent } from '../../src/subscriptions/stream-replay';

const QUERY = 'subscription ($id: ID!) { changed(id: $id) { id resolvedBy } }';

function setUp() {
  const schema = buildSchema('type Query { ok: Boolean } type Change { id: ID! resolvedBy: String! } type Subscription { changed(id: ID!): Change! }');
  let executions = 0;
  const sources = new Map<object, StreamEvent[]>();
  const subscriptionType = schema.getSubscriptionType()!;
  const field = subscriptionType.getFields().changed!;
  field.subscribe = async function* (_root, _args, context: object) {
    for (const event of sources.get(context) ?? []) yield event;
  };
  field.resolve = (event: StreamEvent, _args, context: { name: string }) => {
    executions += 1;
    return { id: event.cursor, resolvedBy: context.name };
  };
  const shared = new SharedEventResults();
  /** A subscription of `name` to `events`, remembered with `shape` (none: not shareable). */
  const subscribe = async (name: string, events: StreamEvent[], shape?: Partial<SubscriptionShape>) => {
    const contextValue = { name };
    sources.set(contextValue, events);
    const args: ExecutionArgs = { schema, document: parse(QUERY), variableValues: { id: '1' }, contextValue };
    if (shape) shared.remember(contextValue, { query: QUERY, variables: { id: '1' }, viewerScope: 'anonymous', ...shape });
    const results = (await shared.subscribe(args)) as AsyncIterableIterator<ExecutionResult>;
    const collected: ExecutionResult[] = [];
    for await (const result of results) collected.push(result);
    return collected;
  };
  return { subscribe, executions: () => executions };
}

const liveEvent = (cursor: string): StreamEvent => ({ cursor, event: { id: cursor } as StreamEvent['event'] });

it('executes a live event once for identical subscriptions and hands both the same result', async () => {
  const { subscribe, executions } = setUp();
  const events = [liveEvent('1-0'), liveEvent('2-0')];
  const [first, second] = [await subscribe('first', events, {}), await subscribe('second', events, {})];
  expect(executions()).toBe(2);
  expect(second).toEqual(first);
  expect(second[0]).toBe(first[0]);
  expect(first.map((result) => result.data)).toEqual([{ changed: { id: '1-0', resolvedBy: 'first' } }, { changed: { id: '2-0', resolvedBy: 'first' } }]);
});

it('executes apart for another viewer, other variables, a resume cursor, a replayed event, or no shape', async () => {
  const { subscribe, executions } = setUp();
  const event = liveEvent('1-0');
  await subscribe('anonymous', [event], {});
  await subscribe('alice', [event], { viewerScope: '2:CUSTOMER' });
  await subscribe('other variables', [event], { variables: { id: '2' } });
  await subscribe('resumed', [event], { resumeAfter: '0-1' });
  await subscribe('unshaped', [event]);
  expect(executions()).toBe(5);

  const replayed = { ...liveEvent('3-0'), isReplayed: true };
  const [first, second] = [await subscribe('first', [replayed], {}), await subscribe('second', [replayed], {})];
  expect(executions()).toBe(7);
  expect(second[0]!.data).toEqual({ changed: { id: '3-0', resolvedBy: 'second' } });
  expect(first[0]!.data).toEqual({ changed: { id: '3-0', resolvedBy: 'first' } });
});

it('answers a subscription that cannot start with its errors, as graphql-js does', async () => {
  const shared = new SharedEventResults();
  const schema = buildSchema('type Query { ok: Boolean } type Subscription { changed: Boolean }');
  schema.getSubscriptionType()!.getFields().changed!.subscribe = () => {
    throw new GraphQLError('Product 9 was not found.', { extensions: { code: 'NOT_FOUND' } });
  };
  const result = await shared.subscribe({ schema, document: parse('subscription { changed }') });
  expect((result as ExecutionResult).errors?.map((error) => [error.message, error.extensions.code])).toEqual([['Product 9 was not found.', 'NOT_FOUND']]);
});
