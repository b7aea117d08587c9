// Jest matchers for what a gateway test asserts most: an error code in a GraphQL result, and a
// domain event in what a mutation published. Plain functions here (no Jest import), registered by
// jest.ts, so they can be unit-tested and used with any expect that takes `expect.extend`.
import type { GraphQLFormattedError } from 'graphql';
import type { DomainEvent } from '../events/event-types';

interface MatcherContext {
  isNot?: boolean;
  equals(a: unknown, b: unknown): boolean;
  utils: { printReceived(value: unknown): string; printExpected(value: unknown): string };
}

interface MatcherResult {
  pass: boolean;
  message(): string;
}

/** What toHavePublished looks for: the type in either spelling ('OrderPlaced' or 'ORDER_PLACED'), and any envelope fields, partially. */
export interface ExpectedEvent {
  type: string;
  data?: Record<string, unknown>;
  aggregate?: Partial<DomainEvent['aggregate']>;
}

/** "OrderPlaced" and "ORDER_PLACED" alike → "ORDER_PLACED" (the GraphQL EventType spelling). */
const eventTypeKey = (type: string) => type.replace(/(?<=[a-z])(?=[A-Z])/g, '_').toUpperCase();

export function toHaveGraphQLError(this: MatcherContext, received: unknown, code: string): MatcherResult {
  const errors = ((received as { errors?: readonly GraphQLFormattedError[] } | null)?.errors ?? []) as readonly GraphQLFormattedError[];
  const codes = errors.map((error) => error.extensions?.code);
  const pass = codes.includes(code);
  return {
    pass,
    message: () =>
      pass
        ? `expected no GraphQL error with code ${this.utils.printExpected(code)}, got ${this.utils.printReceived(errors)}`
        : `expected a GraphQL error with code ${this.utils.printExpected(code)}, got ${codes.length ? `codes ${this.utils.printReceived(codes)}: ${JSON.stringify(errors)}` : `no errors (data ${JSON.stringify((received as { data?: unknown } | null)?.data)})`}`,
  };
}

/** `received`: the events of `gateway.events(stream)`. */
export function toHavePublished(this: MatcherContext, received: unknown, expected: ExpectedEvent): MatcherResult {
  if (!Array.isArray(received)) throw new Error(`toHavePublished expects the array of await gateway.events(stream), got ${typeof received}`);
  const events = received as DomainEvent[];
  const matching = events.filter(
    (event) =>
      eventTypeKey(event.type) === eventTypeKey(expected.type) &&
      (expected.data === undefined || containsAll(this, event.data, expected.data)) &&
      (expected.aggregate === undefined || containsAll(this, event.aggregate, expected.aggregate)),
  );
  const pass = matching.length > 0;
  return {
    pass,
    message: () =>
      pass
        ? `expected no event like ${this.utils.printExpected(expected)}, got ${this.utils.printReceived(matching)}`
        : `expected an event like ${this.utils.printExpected(expected)} among the ${events.length} published: ${this.utils.printReceived(events.map(({ type, aggregate, data }) => ({ type, aggregate, data })))}`,
  };
}

/** Every field of `expected` equals (recursively, partially for objects) the one in `actual`. */
function containsAll(context: MatcherContext, actual: unknown, expected: Record<string, unknown>): boolean {
  if (typeof actual !== 'object' || actual === null) return false;
  return Object.entries(expected).every(([key, value]) => {
    const actualValue = (actual as Record<string, unknown>)[key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !isAsymmetric(value)) return containsAll(context, actualValue, value as Record<string, unknown>);
    return context.equals(actualValue, value);
  });
}

const isAsymmetric = (value: object) => typeof (value as { asymmetricMatch?: unknown }).asymmetricMatch === 'function';

export const streamgateMatchers = { toHaveGraphQLError, toHavePublished };
