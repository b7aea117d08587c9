// Every code a gateway websocket is closed with, and what each tells the client to do. graphql-ws's
// own protocol codes come from its CloseCode; the rest are RFC 6455's and this gateway's (4100).
import { CloseCode as GraphQLWsCloseCode } from 'graphql-ws';
import type { SubscriberSocket } from '../subscriptions/subscription-feeds';

export const CloseCode = {
  /** RFC 6455: the replica is shutting down; reconnect (to another replica) and resume. */
  GoingAway: 1001,
  /** RFC 6455: a frame over the body limit (ws closes with it itself, see maxPayload). */
  MessageTooBig: 1009,
  /**
   * RFC 6455 "try again later": a connection over the replica's limit, or one whose session cannot
   * be checked right now (Redis unreachable). Not Forbidden, which tells a client to log in again.
   */
  TryAgainLater: 1013,
  /** The subscriber stopped reading (its queue hit the bound): reconnect and resume after the last event. */
  SlowConsumer: 4100,
  /** graphql-ws: a bad token at connection_init, or a session revoked or expired later: log in again. */
  Forbidden: GraphQLWsCloseCode.Forbidden,
  /** graphql-ws: connection_init did not arrive within the init timeout. */
  ConnectionInitialisationTimeout: GraphQLWsCloseCode.ConnectionInitialisationTimeout,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Closes the socket of a subscriber that stopped reading (SubscriptionFeeds' onSlowConsumer). */
export function closeSlowConsumer(socket: SubscriberSocket, maxQueuedEvents: number): void {
  socket.close(CloseCode.SlowConsumer, `Slow consumer: more than ${maxQueuedEvents} events queued; reconnect and resume`);
}
