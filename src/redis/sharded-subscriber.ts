// A Redis Cluster's sharded subscribers (ioredis `shardedSubscribers`: one subscriber connection
// per master, each SSUBSCRIBEd to the channels of its slots) seen as one subscriber connection, so
// the code that subscribes (subscription feeds, L1, revocations, publish waiters, the database
// identity) is the same on every topology: subscribe/unsubscribe are SSUBSCRIBE/SUNSUBSCRIBE,
// 'message' is 'smessage'.
//
// Losing messages and getting them back is what the subscribers' catch-ups hang on
// (subscriber-reconnects.ts), so it is reported the way a single connection reports it:
// - 'close' when a master's subscriber connection ended (ioredis's subscriber group emits
//   "-node" with the node's key; a failover, a killed master, a dropped socket): messages of its
//   slots may be lost from now on;
// - a slot moving to another master (resharding) is a loss too, though no connection ends: the old
//   master unsubscribes the slot's channels by itself, which ioredis does not report, and messages
//   published on the new master are lost until ioredis subscribes them there. So every rebuild of
//   the subscribers for a new slot map ("subscribersReady") is reported as 'close' first;
// - 'ready' once ioredis has rebuilt its subscribers for the new slot map and every channel is
//   subscribed again. ioredis re-sends the SSUBSCRIBEs without waiting for them; this sends them
//   once more (harmless: a channel subscribed twice is one subscription) and waits for the replies,
//   so a catch-up that starts on 'ready' misses nothing published afterwards.
import { EventEmitter } from 'node:events';
import type { Cluster } from 'ioredis';
import type { RedisSubscriber } from './client';

export class ShardedSubscriber extends EventEmitter implements RedisSubscriber {
  /** Every channel subscribed through this object (ioredis keeps its own map per slot). */
  private readonly channels = new Set<string>();
  private isLost = false;

  constructor(readonly cluster: Cluster) {
    super();
    cluster.on('smessage', (channel: string, message: string) => this.emit('message', channel, message));
    // The subscriber group's "-node" carries the node's key; the connection pool's (a node removed
    // from the slot map, which subscribersReady does not follow when nothing else changed) does not.
    cluster.on('-node', (_node: unknown, nodeKey?: string) => {
      if (nodeKey !== undefined) this.lose();
    });
    cluster.on('subscribersReady', () => {
      this.lose();
      void this.subscribeAgain();
    });
    // Passed on only when someone listens: an 'error' nobody listens to would throw.
    cluster.on('error', (error: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  get status(): string {
    return this.isLost ? 'reconnecting' : this.cluster.status;
  }

  /** One SSUBSCRIBE per channel: channels of one command must share a slot. */
  async subscribe(...channels: string[]): Promise<unknown> {
    for (const channel of channels) this.channels.add(channel);
    return Promise.all(channels.map((channel) => this.cluster.ssubscribe(channel)));
  }

  async unsubscribe(...channels: string[]): Promise<unknown> {
    for (const channel of channels) this.channels.delete(channel);
    return Promise.all(channels.map((channel) => this.cluster.sunsubscribe(channel)));
  }

  /** Subscriptions are confirmed before subscribe() resolves and before 'ready': nothing to wait for. */
  async ping(): Promise<string> {
    return 'PONG';
  }

  async quit(): Promise<void> {
    await this.cluster.quit();
  }

  disconnect(): void {
    this.cluster.disconnect();
  }

  private lose(): void {
    if (this.isLost) return;
    this.isLost = true;
    this.emit('close');
  }

  private async subscribeAgain(): Promise<void> {
    if (!this.isLost) return;
    try {
      await this.subscribe(...this.channels);
    } catch {
      // The new subscribers are not all up yet: the next "subscribersReady" tries again.
      return;
    }
    this.isLost = false;
    this.emit('ready');
  }
}
