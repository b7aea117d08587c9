// A subscriber connection that drops loses the messages published while it is away. ioredis sends
// its SUBSCRIBEs again on reconnect, before emitting 'ready', without waiting for Redis to apply
// them; a PING queued behind them answers once they are applied. So whatever makes up for lost
// messages (a replay, a re-check, a flush) runs then, and anything published afterwards reaches
// the listener.
import type { RedisSubscriber } from './client';

export interface SubscriberReconnectHandlers {
  /** The connection dropped: messages may be lost from now on. */
  onLost(): void;
  /** It is back and our channels are subscribed again. */
  onBack(): void;
  /** The PING failed (dropped again): the next 'ready' tries again. */
  onError?(error: unknown): void;
}

/** Calls the handlers on every drop and return of `subscriber`; returns a function that stops it. */
export function watchSubscriberReconnects(subscriber: RedisSubscriber, handlers: SubscriberReconnectHandlers): () => void {
  let hasLostConnection = false;
  const onClose = () => {
    hasLostConnection = true;
    handlers.onLost();
  };
  const onReady = () => {
    if (!hasLostConnection) return;
    hasLostConnection = false;
    subscriber.ping().then(
      () => handlers.onBack(),
      (error: unknown) => handlers.onError?.(error),
    );
  };
  subscriber.on('close', onClose);
  subscriber.on('ready', onReady);
  return () => {
    subscriber.off('close', onClose);
    subscriber.off('ready', onReady);
  };
}
