// A subscriber as a client app would write it: graphql-ws with retries, through the repo's
// examples/client/resumable-subscription.ts helper, collecting what it receives so tests can wait
// for a number of events (never for a time) and compare sequences.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { subscribeResumable, type ResumableSubscription, type SubscriptionError } from '../../examples/client/resumable-subscription';

export interface ReceivedEvent {
  cursor: string;
  type: string;
  [field: string]: unknown;
}

export interface TestSubscriber {
  client: Client;
  subscription: ResumableSubscription;
  events: ReceivedEvent[];
  errors: SubscriptionError[];
  /** Close events of the client's sockets, oldest first. */
  closes: Array<{ code: number; reason: string }>;
  /** Resolves once `count` events arrived; rejects on a subscription error or after `timeoutMs`. */
  waitForEvents(count: number, timeoutMs?: number): Promise<ReceivedEvent[]>;
  /** Resolves with the first subscription error (e.g. CURSOR_EXPIRED). */
  waitForError(timeoutMs?: number): Promise<SubscriptionError[]>;
  /** Resolves when the server acknowledged a (re)connection: `count` acknowledgements in all. */
  waitForConnections(count: number, timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

export interface TestSubscriberOptions {
  /** One URL, or several tried in turn on every (re)connect: a client moving between replicas. */
  urls: string | (() => string);
  token?: string;
  query: string;
  field: string;
  variables?: Record<string, unknown>;
  after?: string | null;
  /** Reconnect after a close (1001, 1006, 4100...). @default true */
  isRetrying?: boolean;
}

export function startSubscriber(options: TestSubscriberOptions): TestSubscriber {
  const events: ReceivedEvent[] = [];
  const errors: SubscriptionError[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  let connections = 0;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  const isRetrying = options.isRetrying ?? true;
  const client = createClient({
    url: options.urls,
    webSocketImpl: WebSocket,
    connectionParams: options.token ? { authorization: `Bearer ${options.token}` } : {},
    retryAttempts: isRetrying ? 1000 : 0,
    retryWait: async () => new Promise((resolve) => setTimeout(resolve, 50)),
    shouldRetry: () => isRetrying,
    on: {
      connected: () => {
        connections += 1;
        notify();
      },
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        closes.push({ code, reason: String(reason) });
        notify();
      },
    },
  });
  const subscription = subscribeResumable<ReceivedEvent>(client, {
    query: options.query,
    field: options.field,
    variables: options.variables,
    after: options.after,
    onEvent: (event) => {
      events.push(event);
      notify();
    },
    onError: (received) => {
      errors.push(...received);
      notify();
    },
  });

  const waitUntil = <T>(isDone: () => T | undefined, describe: () => string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = () => {
        let value: T | undefined;
        try {
          value = isDone();
        } catch (error) {
          finish();
          reject(error as Error);
          return;
        }
        if (value === undefined) return;
        finish();
        resolve(value);
      };
      const finish = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out: ${describe()}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });

  return {
    client,
    subscription,
    events,
    errors,
    closes,
    waitForEvents: (count, timeoutMs = 20_000) =>
      waitUntil(
        () => {
          if (errors.length) throw new Error(`subscription failed: ${JSON.stringify(errors)}`);
          return events.length >= count ? events.slice(0, count) : undefined;
        },
        () => `${events.length} of ${count} events (closes ${JSON.stringify(closes)})`,
        timeoutMs,
      ),
    waitForError: (timeoutMs = 20_000) =>
      waitUntil(() => (errors.length ? [...errors] : undefined), () => `no error; ${events.length} events`, timeoutMs),
    waitForConnections: (count, timeoutMs = 20_000) =>
      waitUntil(() => (connections >= count ? true : undefined), () => `${connections} of ${count} connections`, timeoutMs).then(() => undefined),
    async dispose() {
      subscription.unsubscribe();
      await client.dispose();
    },
  };
}
