// ShardedSubscriber's own decisions, over a fake Cluster (an EventEmitter that records SSUBSCRIBEs):
// when it says messages may have been lost ('close') and when they flow again ('ready': only once
// every channel is subscribed again), and that it sends one SSUBSCRIBE per channel. The real
// Cluster behind it is exercised in test/integration/cluster-failover.test.ts.
import { EventEmitter } from 'node:events';
import type { Cluster } from 'ioredis';
import { ShardedSubscriber } from '../../src/redis/sharded-subscriber';
import { deferred } from '../../src/testing/wait';

function fakeCluster() {
  const cluster = new EventEmitter() as EventEmitter & { status: string; subscribed: string[][]; pending: Array<ReturnType<typeof deferred<number>>> };
  cluster.status = 'ready';
  cluster.subscribed = [];
  cluster.pending = [];
  Object.assign(cluster, {
    ssubscribe: (...channels: string[]) => {
      cluster.subscribed.push(channels);
      const reply = deferred<number>();
      cluster.pending.push(reply);
      return reply.promise;
    },
    sunsubscribe: async () => 0,
  });
  return cluster;
}

const answerAll = (cluster: ReturnType<typeof fakeCluster>) => cluster.pending.splice(0).forEach((reply) => reply.resolve(1));

/** A ShardedSubscriber over a fake Cluster, subscribed to `channels` (answered). */
async function subscribedTo(...channels: string[]) {
  const cluster = fakeCluster();
  const subscriber = new ShardedSubscriber(cluster as unknown as Cluster);
  const subscribing = subscriber.subscribe(...channels);
  answerAll(cluster);
  await subscribing;
  return { cluster, subscriber };
}

it('subscribes channel by channel (channels of one SSUBSCRIBE must share a slot) and passes smessage on as message', async () => {
  const { cluster, subscriber } = await subscribedTo('a', 'b');
  expect(cluster.subscribed).toEqual([['a'], ['b']]);
  const messages: string[][] = [];
  subscriber.on('message', (channel: string, message: string) => messages.push([channel, message]));
  cluster.emit('smessage', 'a', 'hello');
  expect(messages).toEqual([['a', 'hello']]);
});

it("reports a lost subscriber connection once, and 'ready' only after every channel is subscribed again", async () => {
  const { cluster, subscriber } = await subscribedTo('a', 'b');
  const events: string[] = [];
  subscriber.on('close', () => events.push('close'));
  subscriber.on('ready', () => events.push('ready'));

  // The connection pool's "-node" (no node key) is not a subscriber's: nothing was lost.
  cluster.emit('-node', {});
  expect(events).toEqual([]);
  cluster.emit('-node', {}, '127.0.0.1:7001');
  cluster.emit('-node', {}, '127.0.0.1:7002');
  expect(events).toEqual(['close']);
  expect(subscriber.status).toBe('reconnecting');

  cluster.subscribed.length = 0;
  cluster.emit('subscribersReady');
  expect(cluster.subscribed).toEqual([['a'], ['b']]);
  // Not before the SSUBSCRIBEs are answered: a catch-up started then could miss what is published meanwhile.
  await Promise.resolve();
  expect(events).toEqual(['close']);
  answerAll(cluster);
  await new Promise((resolve) => subscriber.once('ready', resolve));
  expect(events).toEqual(['close', 'ready']);
  expect(subscriber.status).toBe('ready');
});

it('reports a rebuild for a new slot map as a loss even when no connection ended (a slot moved: its old master unsubscribed it silently)', async () => {
  const { cluster, subscriber } = await subscribedTo('a');
  const events: string[] = [];
  subscriber.on('close', () => events.push('close'));
  subscriber.on('ready', () => events.push('ready'));
  cluster.emit('subscribersReady');
  expect(events).toEqual(['close']);
  const ready = new Promise((resolve) => subscriber.once('ready', resolve));
  answerAll(cluster);
  await ready;
  expect(events).toEqual(['close', 'ready']);
});

it('stays lost when subscribing again fails, and is ready after the next subscribersReady', async () => {
  const { cluster, subscriber } = await subscribedTo('a');
  cluster.emit('-node', {}, '127.0.0.1:7001');
  cluster.emit('subscribersReady');
  cluster.pending.splice(0).forEach((reply) => reply.reject(new Error('Connection is closed.')));
  await new Promise((resolve) => setImmediate(resolve));
  expect(subscriber.status).toBe('reconnecting');
  cluster.emit('subscribersReady');
  const ready = new Promise((resolve) => subscriber.once('ready', resolve));
  answerAll(cluster);
  await ready;
  expect(subscriber.status).toBe('ready');
});

it("passes the cluster's errors on only to someone listening (an unheard 'error' would throw)", () => {
  const cluster = fakeCluster();
  const subscriber = new ShardedSubscriber(cluster as unknown as Cluster);
  expect(() => cluster.emit('error', new Error('node down'))).not.toThrow();
  const heard: Error[] = [];
  subscriber.on('error', (error: Error) => heard.push(error));
  cluster.emit('error', new Error('node down'));
  expect(heard.map((error) => error.message)).toEqual(['node down']);
});
