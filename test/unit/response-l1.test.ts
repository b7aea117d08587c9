// The response L1's rules with a fake subscriber connection, in milliseconds: a held response is
// served only after a PING sent after the request began has answered, and a message heard before
// that PONG drops what it names; an invalidation drops exactly the responses that read what it
// names (a volatile-only change spares those that read only the stable part); a response read
// before a message is not kept after it; nothing is served while the connection is away; a
// database replacement drops everything; one PING serves every request of an event-loop turn.
import { EventEmitter } from 'node:events';
import { encodeInvalidationMessage, type InvalidatedKeys } from '../../src/cache/invalidation-message';
import { dependenciesOf, ResponseL1 } from '../../src/cache/response-l1';
import type { RedisSubscriber } from '../../src/redis/client';
import { deferred } from '../../src/testing/wait';

const CHANNEL = 'invalidations';
const DATABASE_CHANGED = 'database-changed';
const BODY = Buffer.from('{"data":{}}');

/** A subscriber whose PINGs answer when the test says (Redis answers them in order, after earlier messages). */
class FakeSubscriber extends EventEmitter {
  status = 'ready';
  readonly pongs: Array<() => void> = [];
  subscribe = async () => undefined;
  unsubscribe = async () => undefined;
  ping = () => {
    const pong = deferred<string>();
    this.pongs.push(() => pong.resolve('PONG'));
    return pong.promise;
  };
  invalidate(...invalidated: InvalidatedKeys[]): void {
    this.emit('message', CHANNEL, encodeInvalidationMessage(invalidated));
  }
  /** Answers every PING sent so far. */
  answer(): void {
    this.pongs.splice(0).forEach((pong) => pong());
  }
}

/** A header naming product dependencies (slot, generation and digest do not matter here). */
const header = (...keyIds: string[]) => `0|g|d|Product.v1|${keyIds.join(',')}`;

const l1s: ResponseL1[] = [];
afterEach(() => l1s.splice(0).forEach((l1) => l1.stop()));

async function started() {
  const subscriber = new FakeSubscriber();
  const l1 = new ResponseL1({
    subscriber: subscriber as unknown as RedisSubscriber,
    channel: CHANNEL,
    databaseChangedChannel: DATABASE_CHANGED,
    typeKeys: new Map([['Product', 'Product.v1']]),
    maxBytes: 1_000_000,
    ttlMs: 60_000,
  });
  await l1.start();
  l1s.push(l1);
  return { subscriber, l1 };
}

/** `l1.get(key)` with the barrier's PING answered once it is sent. */
async function served(setup: Awaited<ReturnType<typeof started>>, key: string) {
  const answer = setup.l1.get(key);
  await new Promise((resolve) => setImmediate(resolve));
  setup.subscriber.answer();
  return answer;
}

it('reads the dependencies a stored header names', () => {
  expect(dependenciesOf('0|g1|d1|Product.v1|5!,6;-1||d2|OrderPages.v1|user-3')).toEqual(['Product.v1 5!', 'Product.v1 6', 'OrderPages.v1 user-3']);
});

it('serves a held response only once a PING sent after the request answered, and a message heard before that PONG drops it', async () => {
  const setup = await started();
  const { l1, subscriber } = setup;
  l1.keep('a', BODY, header('5'), l1.currentGeneration());
  let isAnswered = false;
  const answer = l1.get('a').then((body) => ((isAnswered = true), body));
  await new Promise((resolve) => setImmediate(resolve));
  expect(subscriber.pongs).toHaveLength(1);
  expect(isAnswered).toBe(false);
  subscriber.answer();
  await expect(answer).resolves.toBe(BODY);

  // A write acknowledged before the next request: its message precedes the PONG on the connection.
  const next = l1.get('a');
  await new Promise((resolve) => setImmediate(resolve));
  subscriber.invalidate({ type: 'Product', keyIds: ['5'] });
  subscriber.answer();
  await expect(next).resolves.toBeUndefined();
});

it('drops exactly the responses that read what a message names; a change of only the volatile part spares those that read only the stable part', async () => {
  const setup = await started();
  const { l1, subscriber } = setup;
  l1.keep('stock', BODY, header('5!'), l1.currentGeneration());
  l1.keep('name', BODY, header('5'), l1.currentGeneration());
  l1.keep('other', BODY, header('6!'), l1.currentGeneration());
  subscriber.invalidate({ type: 'Product', keyIds: ['5'], part: 'volatile' });
  expect(await served(setup, 'stock')).toBeUndefined();
  expect(await served(setup, 'name')).toBe(BODY);
  expect(await served(setup, 'other')).toBe(BODY);
  subscriber.invalidate({ type: 'Product', keyIds: ['5'] });
  expect(await served(setup, 'name')).toBeUndefined();
  expect(await served(setup, 'other')).toBe(BODY);
  expect(l1.hits).toBe(3);
});

it('does not keep a response read before a message was heard (it may be for it)', async () => {
  const setup = await started();
  const { l1, subscriber } = setup;
  const readGeneration = l1.currentGeneration();
  subscriber.invalidate({ type: 'Product', keyIds: ['99'] });
  l1.keep('a', BODY, header('5'), readGeneration);
  expect(await served(setup, 'a')).toBeUndefined();
  // Control: read after the message, it is kept.
  l1.keep('a', BODY, header('5'), l1.currentGeneration());
  expect(await served(setup, 'a')).toBe(BODY);
});

it('serves nothing while the connection is away, drops everything when it is back, and on a database replacement', async () => {
  const setup = await started();
  const { l1, subscriber } = setup;
  l1.keep('a', BODY, header('5'), l1.currentGeneration());
  subscriber.status = 'reconnecting';
  subscriber.emit('close');
  expect(await served(setup, 'a')).toBeUndefined();
  l1.keep('a', BODY, header('5'), l1.currentGeneration());
  subscriber.status = 'ready';
  subscriber.emit('ready');
  await new Promise((resolve) => setImmediate(resolve));
  subscriber.answer(); // the reconnect watcher's PING
  await new Promise((resolve) => setImmediate(resolve));
  expect(await served(setup, 'a')).toBeUndefined();
  l1.keep('a', BODY, header('5'), l1.currentGeneration());
  expect(await served(setup, 'a')).toBe(BODY);

  subscriber.emit('message', DATABASE_CHANGED, 'new-identity');
  expect(await served(setup, 'a')).toBeUndefined();
});

it('sends one PING for every request of an event-loop turn, and never uses one sent before a request began', async () => {
  const setup = await started();
  const { l1, subscriber } = setup;
  l1.keep('a', BODY, header('5'), l1.currentGeneration());
  const firstTurn = Array.from({ length: 20 }, () => l1.get('a'));
  await new Promise((resolve) => setImmediate(resolve));
  expect(subscriber.pongs).toHaveLength(1);
  // Arrives while that PING is out: it waits for a PING of its own.
  const later = l1.get('a');
  subscriber.answer();
  await expect(Promise.all(firstTurn)).resolves.toEqual(firstTurn.map(() => BODY));
  let isLaterAnswered = false;
  void later.then(() => (isLaterAnswered = true));
  await new Promise((resolve) => setImmediate(resolve));
  expect(isLaterAnswered).toBe(false);
  expect(subscriber.pongs).toHaveLength(1);
  subscriber.answer();
  await expect(later).resolves.toBe(BODY);
  expect(l1.barrierPings).toBe(2);
});

it('reads Redis instead when the PONG does not come in time', async () => {
  const subscriber = new FakeSubscriber();
  const l1 = new ResponseL1({ subscriber: subscriber as unknown as RedisSubscriber, channel: CHANNEL, typeKeys: new Map(), maxBytes: 1000, ttlMs: 1000, barrierTimeoutMs: 5 });
  await l1.start();
  l1s.push(l1);
  l1.keep('a', BODY, '0|g|d|Product.v1|5', l1.currentGeneration());
  await expect(l1.get('a')).resolves.toBeUndefined();
});

it('holds at most maxBytes, counting bodies and dependencies: the least recently used go first', async () => {
  const subscriber = new FakeSubscriber();
  // Room for two entries of one dependency and an 11-byte body (200 + 100 + 11 bytes each), not three.
  const l1 = new ResponseL1({ subscriber: subscriber as unknown as RedisSubscriber, channel: CHANNEL, typeKeys: new Map(), maxBytes: 700, ttlMs: 60_000 });
  await l1.start();
  l1s.push(l1);
  const setup = { subscriber, l1 };
  for (const key of ['a', 'b', 'c']) l1.keep(key, BODY, header('5'), l1.currentGeneration());
  expect(await served(setup, 'a')).toBeUndefined();
  expect(await served(setup, 'b')).toBe(BODY);
  expect(await served(setup, 'c')).toBe(BODY);
  // A response with many dependencies takes their room too.
  l1.keep('d', BODY, header(...Array.from({ length: 5 }, (_, index) => String(index))), l1.currentGeneration());
  expect(await served(setup, 'd')).toBeUndefined();
});
