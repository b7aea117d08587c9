// Revoked sessions must end their websockets on every replica: the session store publishes each
// revocation on one pub/sub channel, and every replica hears it on its subscriber connection.
// A replica whose subscriber connection dropped may have missed some, so it is told to re-check
// every session it holds once the connection is back.
import type { RedisSubscriber } from '../redis/client';
import { watchSubscriberReconnects } from '../redis/subscriber-reconnects';

export interface SessionRevocation {
  userId: number;
  /** The one session revoked (logout); absent when all of the user's sessions were (logoutAll, role change). */
  tokenHash?: string;
}

export interface SessionRevocationsOptions {
  subscriber: RedisSubscriber;
  channel: string;
  onRevoked(revocation: SessionRevocation): void;
  /** Revocations may have been missed: check every session. */
  onResync(): void;
}

export function revocationMessage(revocation: SessionRevocation): string {
  return JSON.stringify(revocation);
}

export class SessionRevocations {
  private stopWatchingReconnects: () => void = () => undefined;

  constructor(private readonly options: SessionRevocationsOptions) {}

  async start(): Promise<void> {
    const { subscriber, channel } = this.options;
    subscriber.on('message', this.onMessage);
    this.stopWatchingReconnects = watchSubscriberReconnects(subscriber, { onLost: () => undefined, onBack: this.options.onResync });
    await subscriber.subscribe(channel);
  }

  stop(): void {
    const { subscriber } = this.options;
    subscriber.off('message', this.onMessage);
    this.stopWatchingReconnects();
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.options.channel) return;
    try {
      const revocation = JSON.parse(message) as SessionRevocation;
      if (Number.isSafeInteger(revocation.userId)) this.options.onRevoked(revocation);
    } catch {
      // Not ours to understand; nothing to revoke.
    }
  };
}
