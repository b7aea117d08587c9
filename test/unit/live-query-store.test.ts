// The live query store's rules with a fake subscriber connection and fake executions, in
// milliseconds: an invalidation naming a key a query read re-executes it and anything else does
// not; a burst is coalesced into one execution per window with the last write reflected; identical
// queries share executions; an unchanged result is not sent again; an execution that could not
// record what it read runs again on any invalidation; the last subscriber leaving drops the query.
import { EventEmitter } from 'node:events';
import type { ExecutionResult } from 'graphql';
import { encodeInvalidationMessage } from '../../src/cache/invalidation-message';
import { LiveDependencies } from '../../src/live/live-dependencies';
import { LiveQueryStore, type LiveRun } from '../../src/live/live-query-store';
import type { RedisSubscriber } from '../../src/redis/client';
import { deferred, waitUntil } from '../../src/testing/wait';

const CHANNEL = 'invalidations';

class FakeSubscriber extends EventEmitter {
  status = 'ready';
  subscribe = async () => undefined;
  unsubscribe = async () => undefined;
  ping = async () => 'PONG';
  publish(message: string): void {
    this.emit('message', CHANNEL, message);
  }
}

/** A product query over fake data: reads key "Product.v1 <id>" and answers its current stock. */
function productQuery(stock: Map<string, number>, id: string, options: { isIncomplete?: boolean; readsOnlyStableFields?: boolean } = {}) {
  let runs = 0;
  const run = async (): Promise<LiveRun> => {
    runs += 1;
    // Stock is the product's volatile part; a query of only its name and price reads none of it.
    const dependencies = new LiveDependencies(options.readsOnlyStableFields ? new Set() : new Set(['Product.v1']));
    dependencies.add('Product.v1', id, { stable: 's', volatile: 'v' });
    if (options.isIncomplete) dependencies.untrack();
    return { result: { data: { product: { id, stock: stock.get(id) ?? 0 } } }, dependencies };
  };
  return { run, runs: () => runs };
}

function setUp(throttleMs: number) {
  const subscriber = new FakeSubscriber();
  const store = new LiveQueryStore({
    subscriber: subscriber as unknown as RedisSubscriber,
    channel: CHANNEL,
    typeNames: new Map([['Product.v1', 'Product']]),
    throttleMs,
  });
  return { subscriber, store };
}

const stores: LiveQueryStore[] = [];
afterEach(() => stores.splice(0).forEach((store) => store.stop()));

async function started(throttleMs: number) {
  const setup = setUp(throttleMs);
  await setup.store.start();
  stores.push(setup.store);
  return setup;
}

const stockOf = (result: IteratorResult<ExecutionResult>) => (result.value as ExecutionResult).data?.product as { stock: number };

it('re-executes a query when a key it read is invalidated, and not for another key', async () => {
  const { subscriber, store } = await started(0);
  const stock = new Map([['1', 5]]);
  const query = productQuery(stock, '1');
  const results = store.subscribe('product 1', query.run);
  expect(stockOf(await results.next())).toEqual({ id: '1', stock: 5 });

  stock.set('2', 9);
  subscriber.publish('Product 2');
  subscriber.publish('Order 1');
  expect(query.runs()).toBe(1);
  stock.set('1', 6);
  subscriber.publish('Product 1');
  expect(stockOf(await results.next())).toEqual({ id: '1', stock: 6 });
  expect(query.runs()).toBe(2);
  await results.return!();
});

it("re-executes for a change to only a product's stock the queries that read its stock, not those of its name alone", async () => {
  const { subscriber, store } = await started(0);
  const stock = new Map([['1', 5]]);
  const readsStock = productQuery(stock, '1');
  const readsName = productQuery(stock, '1', { readsOnlyStableFields: true });
  const stockResults = store.subscribe('product 1 stock', readsStock.run);
  const nameResults = store.subscribe('product 1 name', readsName.run);
  await stockResults.next();
  await nameResults.next();

  stock.set('1', 4);
  subscriber.publish(encodeInvalidationMessage([{ type: 'Product', keyIds: ['1'], part: 'volatile' }])!);
  expect(stockOf(await stockResults.next()).stock).toBe(4);
  expect(readsName.runs()).toBe(1);

  subscriber.publish(encodeInvalidationMessage([{ type: 'Product', keyIds: ['1'] }])!);
  await waitUntil(async () => readsName.runs() === 2 && readsStock.runs() === 3, 'a change to the whole product re-executes both');
  await stockResults.return!();
  await nameResults.return!();
});

it("runs once for a write that made several keys it read stale (one message, a line per type)", async () => {
  const { subscriber, store } = await started(0);
  const stock = new Map([['1', 5]]);
  const query = productQuery(stock, '1');
  const results = store.subscribe('product 1', query.run);
  await results.next();

  stock.set('1', 4);
  subscriber.publish(encodeInvalidationMessage([{ type: 'Order', keyIds: ['3'] }, { type: 'Product', keyIds: ['1'], part: 'volatile' }, { type: 'Product', keyIds: ['1'] }])!);
  expect(stockOf(await results.next()).stock).toBe(4);
  // A second line heard while the execution ran would have marked it dirty: it ran once.
  expect(query.runs()).toBe(2);
  await results.return!();
});

it('coalesces a burst into one execution per window, the last write reflected', async () => {
  const { subscriber, store } = await started(200);
  const stock = new Map([['1', 0]]);
  const query = productQuery(stock, '1');
  const results = store.subscribe('product 1', query.run);
  await results.next();
  for (let write = 1; write <= 50; write += 1) {
    stock.set('1', write);
    subscriber.publish('Product 1');
  }
  // The window after the first execution: one trailing execution for all 50.
  const latest = await results.next();
  expect(stockOf(latest).stock).toBe(50);
  expect(query.runs()).toBe(2);
  expect(store.executionCount).toBe(2);
  await results.return!();
});

it('runs identical live queries once and fans the result out; drops the query when the last leaves', async () => {
  const { subscriber, store } = await started(0);
  const stock = new Map([['1', 1]]);
  const query = productQuery(stock, '1');
  const first = store.subscribe('product 1', query.run);
  const second = store.subscribe('product 1', productQuery(stock, '1').run);
  expect(stockOf(await first.next()).stock).toBe(1);
  expect(stockOf(await second.next()).stock).toBe(1);
  expect({ queries: store.queryCount, subscribers: store.subscriberCount }).toEqual({ queries: 1, subscribers: 2 });

  stock.set('1', 2);
  subscriber.publish('Product 1');
  expect(stockOf(await first.next()).stock).toBe(2);
  expect(stockOf(await second.next()).stock).toBe(2);
  expect(store.executionCount).toBe(2);

  await first.return!();
  expect(store.subscriberCount).toBe(1);
  await second.return!();
  expect(store.queryCount).toBe(0);
  subscriber.publish('Product 1');
  expect(store.executionCount).toBe(2);
});

it('sends nothing when a re-execution gives the same result', async () => {
  const { subscriber, store } = await started(0);
  const stock = new Map([['1', 1]]);
  const query = productQuery(stock, '1');
  const results = store.subscribe('product 1', query.run);
  await results.next();
  const next = results.next();
  let isSent = false;
  void next.then(() => (isSent = true));
  subscriber.publish('Product 1');
  await new Promise((resolve) => setImmediate(resolve));
  expect(query.runs()).toBe(2);
  expect(isSent).toBe(false);
  stock.set('1', 2);
  subscriber.publish('Product 1');
  expect(stockOf(await next).stock).toBe(2);
  await results.return!();
});

it('re-executes a query that read something unrecorded on any invalidation', async () => {
  const { subscriber, store } = await started(0);
  const stock = new Map([['1', 1]]);
  const query = productQuery(stock, '1', { isIncomplete: true });
  const results = store.subscribe('product 1', query.run);
  await results.next();
  subscriber.publish('Order 7');
  await new Promise((resolve) => setImmediate(resolve));
  expect(query.runs()).toBe(2);
  await results.return!();
});

it('runs again when a key it read was invalidated while it ran (before the index knew it)', async () => {
  const { subscriber, store } = await started(0);
  const stock = new Map([['1', 1]]);
  const gate = deferred();
  let runs = 0;
  const run = async (): Promise<LiveRun> => {
    runs += 1;
    const dependencies = new LiveDependencies();
    dependencies.add('Product.v1', '1', { stable: 's', volatile: 'v' });
    const result = { data: { stock: stock.get('1') } };
    if (runs === 1) await gate.promise;
    return { result, dependencies };
  };
  const results = store.subscribe('product 1', run);
  const first = results.next();
  stock.set('1', 2);
  subscriber.publish('Product 1');
  gate.resolve();
  // The first result may be dropped for the newer one: what counts is that the newer one comes.
  let value = (await first).value as ExecutionResult;
  if (value.data?.stock !== 2) value = (await results.next()).value as ExecutionResult;
  expect(value.data).toEqual({ stock: 2 });
  expect(runs).toBe(2);
  await results.return!();
});

it('lets a client leave while nothing changes (a pending next() ends)', async () => {
  const { store } = await started(0);
  const query = productQuery(new Map([['1', 1]]), '1');
  const results = store.subscribe('product 1', query.run);
  await results.next();
  const pending = results.next();
  await results.return!();
  expect(await pending).toEqual({ done: true, value: undefined });
  expect(store.queryCount).toBe(0);
});
