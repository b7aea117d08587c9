// A subscription that survives reconnects without gaps or duplicates. Every event carries a
// `cursor`; this helper keeps the last one and, whenever graphql-ws re-subscribes (after a
// dropped connection, a replica going away with 1001, a slow-consumer close 4100), sends it as
// `after`, so the server replays exactly what was missed and then goes live again.
//
//   const client = createClient({ url, connectionParams: { authorization: `Bearer ${token}` },
//                                 retryAttempts: Infinity, shouldRetry: () => true });
//   const subscription = subscribeResumable(client, {
//     query: 'subscription($after: String) { myOrders(after: $after) { cursor type order { id status } } }',
//     field: 'myOrders',
//     onEvent: (event) => render(event),
//     onError: (errors) => refetchThenSubscribeAgain(errors), // e.g. CURSOR_EXPIRED
//   });
//   localStorage.setItem('cursor', subscription.cursor ?? '');  // to resume after a page reload
import type { Client } from 'graphql-ws';

export interface SubscriptionError {
  message: string;
  extensions?: { code?: string };
}

export interface ResumableSubscriptionOptions<TEvent extends { cursor: string }> {
  /** A subscription document with an `$after: String` variable passed to the field's `after`. */
  query: string;
  /** Variables besides `after`. */
  variables?: Record<string, unknown>;
  /** The subscription field whose value is the event, e.g. "myOrders". */
  field: string;
  /** Resume after this cursor (e.g. one kept from an earlier page load). @default null: from now */
  after?: string | null;
  onEvent(event: TEvent): void;
  /**
   * The subscription ended with errors (CURSOR_EXPIRED: the events after the cursor are gone, so
   * refetch and subscribe again without `after`; BAD_USER_INPUT, NOT_FOUND, ...) or the client gave up.
   * SERVICE_UNAVAILABLE (Redis briefly unreachable) never gets here: it is retried from the cursor.
   */
  onError?(errors: SubscriptionError[]): void;
  /** Longest wait between retries of a SERVICE_UNAVAILABLE subscription. @default 10000 */
  maxRetryWaitMs?: number;
  /** The server completed the subscription. */
  onComplete?(): void;
}

export interface ResumableSubscription {
  /** The cursor of the last event delivered (or the one it started after). */
  readonly cursor: string | null;
  unsubscribe(): void;
}

/** Stream ids ("<ms>-<seq>") in order; both parts may exceed 2^53. */
export function compareCursors(a: string, b: string): number {
  const [msA = 0n, seqA = 0n] = a.split('-').map(BigInt);
  const [msB = 0n, seqB = 0n] = b.split('-').map(BigInt);
  if (msA !== msB) return msA < msB ? -1 : 1;
  return seqA === seqB ? 0 : seqA < seqB ? -1 : 1;
}

export function subscribeResumable<TEvent extends { cursor: string }>(
  client: Client,
  options: ResumableSubscriptionOptions<TEvent>,
): ResumableSubscription {
  // graphql-ws sends this same payload object again on every re-subscribe, so updating
  // `variables.after` in place is what makes the retry resume from the last event.
  const variables: Record<string, unknown> = { ...options.variables, after: options.after ?? null };
  const payload = { query: options.query, variables };
  let cursor = options.after ?? null;
  let stop: () => void = () => undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let isStopped = false;
  let attempt = 0;

  const start = (): void => {
    stop = client.subscribe<Record<string, TEvent>>(payload, {
      next: (result) => {
        if (result.errors?.length) {
          const errors = result.errors as SubscriptionError[];
          if (errors.every((error) => error.extensions?.code === 'SERVICE_UNAVAILABLE')) retryLater();
          else options.onError?.(errors);
          return;
        }
        const event = result.data?.[options.field];
        // A duplicate can only come from a replay racing a reconnect; the cursor order tells.
        if (!event || (cursor !== null && compareCursors(event.cursor, cursor) <= 0)) return;
        attempt = 0;
        cursor = event.cursor;
        variables.after = cursor;
        options.onEvent(event);
      },
      error: (error) => {
        const errors = Array.isArray(error) ? (error as SubscriptionError[]) : [{ message: describe(error) }];
        options.onError?.(errors);
      },
      complete: () => {
        if (retryTimer === undefined && !isStopped) options.onComplete?.();
      },
    });
  };
  // The server could not start the subscription (Redis unreachable): subscribe again from the
  // same cursor after a growing pause, so nothing is missed once it is back.
  const retryLater = (): void => {
    if (isStopped || retryTimer !== undefined) return;
    attempt += 1;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (!isStopped) start();
    }, Math.min(250 * 2 ** attempt, options.maxRetryWaitMs ?? 10_000));
  };

  start();
  return {
    get cursor() {
      return cursor;
    },
    unsubscribe: () => {
      isStopped = true;
      clearTimeout(retryTimer);
      stop();
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  const close = error as { code?: number; reason?: string };
  return typeof close?.code === 'number' ? `connection closed (${close.code} ${close.reason ?? ''})` : String(error);
}
