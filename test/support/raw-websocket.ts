// A bare graphql-transport-ws connection over a `ws` socket: it sends exactly the frames a test
// writes (or bytes that are no frame at all) and records every message and the close, so protocol
// tests can assert close codes and message order, which graphql-ws's own client hides behind its
// state machine and retries. Waiting is always on a message or the close, never on a timer.
import WebSocket from 'ws';

export const GRAPHQL_TRANSPORT_WS = 'graphql-transport-ws';

export interface ProtocolMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

export interface CloseEvent {
  code: number;
  reason: string;
}

export interface ProtocolError {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

export interface RawSocket {
  socket: WebSocket;
  /** Every message received, oldest first. */
  messages: ProtocolMessage[];
  /** Resolves with the close code and reason, however the socket closed. */
  closed: Promise<CloseEvent>;
  /** Sends a message as JSON, or a string as it is. */
  send(message: ProtocolMessage | string): void;
  /** connection_init with these params; resolves on connection_ack. */
  init(connectionParams?: Record<string, unknown>): Promise<void>;
  /** Resolves with the first message (received before or after the call) that `matches`. */
  waitForMessage(matches: (message: ProtocolMessage) => boolean, describe: string, timeoutMs?: number): Promise<ProtocolMessage>;
  /** The `next` payloads of operation `id`, resolved once `count` arrived. */
  waitForNext<Payload = unknown>(id: string, count: number, timeoutMs?: number): Promise<Payload[]>;
  /** Resolves with the close; rejects if the socket is still open after `timeoutMs`. */
  waitForClose(timeoutMs?: number): Promise<CloseEvent>;
  /** Closes the socket (if still open) and waits for the close. */
  dispose(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Opens a socket speaking graphql-transport-ws; resolves once it is open (the upgrade succeeded). */
export async function openRawSocket(url: string): Promise<RawSocket> {
  const socket = new WebSocket(url, GRAPHQL_TRANSPORT_WS);
  const messages: ProtocolMessage[] = [];
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  let closeEvent: CloseEvent | undefined;
  const closed = new Promise<CloseEvent>((resolve) => {
    socket.once('close', (code, reason) => {
      closeEvent = { code, reason: reason.toString() };
      resolve(closeEvent);
      notify();
    });
  });
  // A reset connection emits 'error' before 'close'; the close is what tests look at.
  socket.on('error', () => undefined);
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as ProtocolMessage);
    notify();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new Error(`websocket upgrade refused: HTTP ${response.statusCode}`)));
    socket.once('close', (code) => reject(new Error(`websocket closed (${code}) before it opened`)));
  });

  const waitUntil = <T>(isDone: () => T | undefined, describe: () => string, timeoutMs: number, isClosedFatal = true): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const value = isDone();
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (isClosedFatal && closeEvent) {
          finish();
          reject(new Error(`socket closed (${closeEvent.code} ${closeEvent.reason}) while waiting for ${describe()}`));
        }
      };
      const finish = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out waiting for ${describe()}; received ${JSON.stringify(messages).slice(0, 2000)}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });

  const waitForMessage: RawSocket['waitForMessage'] = (matches, describe, timeoutMs = DEFAULT_TIMEOUT_MS) =>
    waitUntil(() => messages.find(matches), () => describe, timeoutMs);

  return {
    socket,
    messages,
    closed,
    send(message) {
      socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    },
    async init(connectionParams) {
      socket.send(JSON.stringify({ type: 'connection_init', ...(connectionParams ? { payload: connectionParams } : {}) }));
      await waitForMessage((message) => message.type === 'connection_ack', 'connection_ack');
    },
    waitForMessage,
    waitForNext: <Payload>(id: string, count: number, timeoutMs = DEFAULT_TIMEOUT_MS) =>
      waitUntil(
        () => {
          const payloads = messages.filter((message) => message.id === id && message.type === 'next').map((message) => message.payload as Payload);
          return payloads.length >= count ? payloads.slice(0, count) : undefined;
        },
        () => `${count} next messages for ${id}`,
        timeoutMs,
      ),
    waitForClose: (timeoutMs = DEFAULT_TIMEOUT_MS) => waitUntil(() => closeEvent, () => 'the close', timeoutMs, false),
    async dispose() {
      if (!closeEvent) socket.close(1000, 'test done');
      await closed;
    },
  };
}
