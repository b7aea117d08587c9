// Subscriptions as a client gets them, minus the socket: the gateway's own subscription core
// (src/http/subscription-core.ts, which the websocket and SSE adapters wrap) parses, validates,
// costs and masks the operation with the gateway's settings, then the operation's source stream
// runs the real path: its resolver opens an EventFeed on Redis pub/sub, with replay after a
// cursor, and each event is executed as sse.ts executes it. The kit is a third, thin adapter over
// the same core instance as the server's (its limits, cost budget, live queries and shared event
// executions), so what a test sees is what a websocket client would.
import { createSourceEventStream, print, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { App } from '../app';
import type { SubscriptionCore } from '../http/subscription-core';
import type { OperationOptions } from './execute';
import { TestSubscription } from './test-subscription';
import type { OperationDocument, ResultOf, VariablesOf } from './typed-document';
import { authenticationAs } from './viewer';

export type Subscribe = <Document extends OperationDocument>(
  document: Document,
  options?: OperationOptions<VariablesOf<Document>>,
) => Promise<TestSubscription<ResultOf<Document>>>;

export function createSubscribe(app: App, track: (subscription: TestSubscription<unknown>) => void): Subscribe {
  const core = app.graphql.subscriptionCore;
  let operationCount = 0;

  return async (document, options = {}) => {
    const subscription = new TestSubscription<unknown>();
    track(subscription);
    const prepared = await core.prepare(
      { query: typeof document === 'string' ? document : print(document), variables: options.variables as Record<string, unknown> | undefined },
      {
        authentication: await authenticationAs(app.database.db, options.as),
        requestInfo: () => ({ requestId: `kit-sub-${(operationCount += 1)}`, clientAddress: options.clientAddress ?? '127.0.0.1' }),
        // Stands in for the websocket: a slow consumer's feed closes it (never in a test that reads).
        socket: { close: (code, reason) => subscription.fail({ errors: [{ message: `closed ${code}: ${reason}` }] }) },
      },
    );
    if (!('schema' in prepared)) {
      subscription.fail({ errors: core.formatErrors(prepared) });
      return subscription as TestSubscription<never>;
    }
    // Resolves once the feed is subscribed (and its replay read): a write after this is delivered.
    const source = await createSourceEventStream(prepared);
    if (!(Symbol.asyncIterator in source)) {
      subscription.fail(core.formatNext(source as ExecutionResult) ?? (source as ExecutionResult));
      return subscription as TestSubscription<never>;
    }
    const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    subscription.onClose(() => iterator.return?.());
    void pump(iterator, prepared, subscription, core);
    return subscription as TestSubscription<never>;
  };
}

/** One event at a time, executed with the event as root value, as graphql-js's subscribe and sse.ts do. */
async function pump(
  iterator: AsyncIterator<unknown>,
  args: ExecutionArgs,
  subscription: TestSubscription<unknown>,
  core: SubscriptionCore,
): Promise<void> {
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done || subscription.isClosed) break;
      const result = await core.executeEvent(args, next.value);
      subscription.push(core.formatNext(result) ?? result);
    }
    subscription.complete();
  } catch (error) {
    // The feed failed (CURSOR_EXPIRED, the database replaced…): the error a client would get, then the end.
    subscription.fail({ errors: core.failureOf(error) });
  }
}
