// Revoked sessions must end their websockets on every replica: the session store publishes each
// revocation on one pub/sub channel, and every replica hears it on its subscriber connection.
// A replica whose subscriber connection dropped may have missed some, so it is told to re-check
// every session it holds once the connection is back.
import type Redis from 'ioredis';

export interface SessionRevocation {
  userId: number;
  /** The one session revoked (logout); absent when all of the user's sessions were (logoutAll, role change). */
  tokenHash?: string;
}

export interface SessionRevocationsOptions {
  subscriber: Redis;
  channel: string;
  onRevoked(revocation: SessionRevocation): void;
  /** Revocations may have been missed: check every session. */
  onResync(): void;
}

export function revocationMessage(revocation: SessionRevocation): string {
  return JSON.stringify(revocation);
}

export class SessionRevocations {
  private hasLostConnection = false;

  constructor(private readonly options: SessionRevocationsOptions) {}

  async start(): Promise<void> {
    const { subscriber, channel } = this.options;
    subscriber.on('message', this.onMessage);
    subscriber.on('close', this.onConnectionLost);
    subscriber.on('ready', this.onConnectionBack);
    await subscriber.subscribe(channel);
  }

  stop(): void {
    const { subscriber } = this.options;
    subscriber.off('message', this.onMessage);
    subscriber.off('close', this.onConnectionLost);
    subscriber.off('ready', this.onConnectionBack);
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

  private readonly onConnectionLost = (): void => {
    this.hasLostConnection = true;
  };

  private readonly onConnectionBack = (): void => {
    if (!this.hasLostConnection) return;
    this.hasLostConnection = false;
    // ioredis wrote our SUBSCRIBE before 'ready', but Redis may not have applied it yet: a re-check
    // started now could read a session that a revocation published before the SUBSCRIBE landed
    // (and so missed) then ends. A PING queued behind the SUBSCRIBE answers once it is applied.
    this.options.subscriber.ping().then(
      () => this.options.onResync(),
      () => undefined, // dropped again: 'close' marks it lost and the next 'ready' re-checks
    );
  };
}
