// One Server-Sent Events response carrying one subscription (graphql-sse's "distinct connections"
// mode): `event: next` per result with the event's stream cursor as its `id:` (what a reconnecting
// EventSource sends back as Last-Event-ID), `event: complete` at the end, comment heartbeats for
// idle proxies. It is the SSE counterpart of a websocket wherever one is expected: a feed's
// SubscriberSocket (slow consumer) and a session's connection (revocation), so close codes
// (close-codes.ts) are translated here into what an event stream can say.
import type { ServerResponse } from 'node:http';
import type { FormattedExecutionResult } from 'graphql';
import { ErrorCode } from '../errors';
import type { SubscriberSocket } from '../subscriptions/subscription-feeds';
import { CloseCode } from './close-codes';
import type { SessionConnection } from './socket-sessions';

/** An `id:` must be one line without NUL (the HTML event-stream grammar); stream ids always are. */
const isValidEventId = (id: string): boolean => !/[\r\n\0]/.test(id);

/** A result shared by identical subscriptions (shared-event-results.ts) is serialized once for all their streams. */
const serializedResults = new WeakMap<object, string>();

export class SseStream implements SubscriberSocket, SessionConnection {
  private readonly closeListeners: Array<() => void> = [];
  private hasClosed = false;

  /** Nothing is written until open(): until then the request may still be refused as JSON. */
  constructor(private readonly response: ServerResponse) {
    response.on('close', () => {
      this.hasClosed = true;
      for (const listener of this.closeListeners.splice(0)) listener();
    });
  }

  /** Starts the event stream: 200 and its headers, sent at once (the first event may be minutes away). */
  open(headers: Readonly<Record<string, string | number | readonly string[] | undefined>>): void {
    if (this.isClosed) return;
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) this.response.setHeader(name, value);
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      // no-transform: a proxy must not compress (and so buffer) the stream.
      'cache-control': 'no-cache, no-transform',
      // nginx would otherwise buffer the response, holding events back.
      'x-accel-buffering': 'no',
    });
    this.response.flushHeaders();
  }

  /** Whether the response is over (ended by either side): nothing more is written. */
  get isClosed(): boolean {
    return this.hasClosed || this.response.writableEnded;
  }

  /**
   * Writes one result; false when the socket's buffer is full (wait for `drained()` before the
   * next, so a client that stops reading backs up into its feed's bounded queue, not into memory).
   */
  sendNext(result: FormattedExecutionResult, eventId?: string): boolean {
    if (this.isClosed) return true;
    const id = eventId !== undefined && isValidEventId(eventId) ? `id: ${eventId}\n` : '';
    let json = serializedResults.get(result);
    if (json === undefined) serializedResults.set(result, (json = JSON.stringify(result)));
    return this.response.write(`${id}event: next\ndata: ${json}\n\n`);
  }

  /** Resolves once the socket takes writes again, or the response is over. */
  drained(): Promise<void> {
    if (this.isClosed || !this.response.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.response.off('drain', done);
        this.response.off('close', done);
        resolve();
      };
      this.response.once('drain', done);
      this.response.once('close', done);
    });
  }

  /** A comment line: keeps idle proxies and load balancers from cutting the connection. */
  heartbeat(): void {
    if (!this.isClosed) this.response.write(':\n\n');
  }

  /** The operation is over for good: the client must not reconnect. (`data:` so EventSource dispatches it.) */
  complete(): void {
    if (this.isClosed) return;
    this.response.end('event: complete\ndata:\n\n');
  }

  /**
   * What closing a websocket with `code` means, said in an event stream. A stream merely ended
   * (no `complete`) is one the client reconnects to, with Last-Event-ID: used to resume after a
   * shutdown or a slow consumer's cut-off. A revoked or expired session ends it for good.
   */
  close(code: number, reason: string): void {
    if (this.isClosed) return;
    if (code === CloseCode.Forbidden) {
      this.sendNext({ errors: [{ message: reason, extensions: { code: ErrorCode.Unauthenticated } }] });
      this.complete();
      return;
    }
    // A comment: clients ignore it, but it says why in a captured stream.
    this.response.end(`: ${reason.replace(/[\r\n]/g, ' ')}\n\n`);
  }

  once(_event: 'close', listener: () => void): this {
    if (this.hasClosed) listener();
    else this.closeListeners.push(listener);
    return this;
  }
}
