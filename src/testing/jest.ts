// The kit's Jest set-up, one line of jest.config.js: `setupFilesAfterEnv: ['streamgate/testing/jest']`
// (Jest's hook that runs once the test framework is installed, which expect.extend needs; there is
// no per-test "setupFilesAfterEach"). Registers the matchers and declares their types.
import { expect } from '@jest/globals';
import { streamgateMatchers, type ExpectedEvent } from './matchers';

expect.extend(streamgateMatchers);

declare module 'expect' {
  interface Matchers<R> {
    /** Some error of the GraphQL result has `extensions.code === code` (e.g. 'NOT_FOUND'). */
    toHaveGraphQLError(code: string): R;
    /** Some event of `await gateway.events(stream)` has this type ('OrderPlaced' or 'ORDER_PLACED') and these fields. */
    toHavePublished(expected: ExpectedEvent): R;
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      toHaveGraphQLError(code: string): R;
      toHavePublished(expected: ExpectedEvent): R;
    }
  }
}
