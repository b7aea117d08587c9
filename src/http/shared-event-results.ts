// Executes subscription events as graphql-js's `subscribe` does (the source stream's events mapped
// through `execute`), except that identical subscriptions on this replica execute a live event
// once: 5,000 subscribers of one product's changes get one execution per change, not 5,000.
// Identical means the same document text, operation name, variables and resume cursor, by the
// same viewer (id and role) or anonymous: nothing else of a subscriber's context reaches its
// resolvers, which read an event's entities through loaders that every subscriber of that event
// shares already (stream-event.ts's renewLoaders). A replayed event (a resume, a catch-up) is
// executed for its subscriber alone, with fresh loaders, as before.
import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { StreamEvent } from '../subscriptions/stream-replay';

type MaybePromise<T> = T | Promise<T>;

/** The same operation by the same viewer: what identical subscriptions have in common. */
export interface SubscriptionShape {
  query: string;
  operationName?: unknown;
  variables?: unknown;
  resumeAfter?: string;
  /** "<id>:<role>" of the viewer, or "anonymous". */
  viewerScope: string;
}

export class SharedEventResults {
  /** Shape keys by the context of each subscription prepared with one. */
  private readonly shapes = new WeakMap<object, string>();
  /** Results by live event, then by shape key; gone with the event. */
  private readonly results = new WeakMap<object, Map<string, MaybePromise<ExecutionResult>>>();

  /** Lets the subscription of `contextValue` share executions with identical ones. */
  remember(contextValue: unknown, shape: SubscriptionShape): void {
    const { viewerScope, operationName, resumeAfter, variables, query } = shape;
    this.shapes.set(contextValue as object, JSON.stringify([viewerScope, operationName ?? null, resumeAfter ?? null, variables ?? null, query]));
  }

  /** The result of one source event for the subscription `args` describe. */
  execute(args: ExecutionArgs, sourceEvent: unknown): MaybePromise<ExecutionResult> {
    const shape = this.shapes.get(args.contextValue as object);
    if (shape === undefined || !isLiveEvent(sourceEvent)) return execute({ ...args, rootValue: sourceEvent });
    let byShape = this.results.get(sourceEvent);
    if (!byShape) this.results.set(sourceEvent, (byShape = new Map()));
    let result = byShape.get(shape);
    if (result === undefined) byShape.set(shape, (result = execute({ ...args, rootValue: sourceEvent })));
    return result;
  }

  /** graphql-js's `subscribe`, its events executed through `execute` above. */
  async subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return stream;
    return mapResults(stream, (event) => this.execute(args, event));
  }
}

function isLiveEvent(event: unknown): event is StreamEvent {
  return typeof event === 'object' && event !== null && 'cursor' in event && !(event as StreamEvent).isReplayed;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/** Maps a source stream as graphql-js's mapAsyncIterator does (closing the source when a mapping throws). */
function mapResults(source: AsyncIterable<unknown>, map: (event: unknown) => MaybePromise<ExecutionResult>): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  const closeSource = async () => {
    try {
      await iterator.return?.();
    } catch {
      // Keep the original error when closing the source also fails.
    }
  };
  const mapped = async (next: IteratorResult<unknown>): Promise<IteratorResult<ExecutionResult>> => {
    if (next.done) return { value: undefined, done: true };
    try {
      return { value: await map(next.value), done: false };
    } catch (error) {
      await closeSource();
      throw error;
    }
  };
  return {
    next: async () => mapped(await iterator.next()),
    return: async () => (iterator.return ? mapped(await iterator.return()) : { value: undefined, done: true }),
    throw: async (error: unknown) => {
      if (iterator.throw) return mapped(await iterator.throw(error));
      await closeSource();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
