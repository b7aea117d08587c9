// streamgate/testing: resolver and subscription tests for the gateway and the modules teams add to
// it (docs/extending.md). createTestGateway boots the real app in-process; the matchers are in
// streamgate/testing/jest (a setupFilesAfterEnv entry).
// Before any resolver class loads: type-graphql's decorators read design-time metadata (as main.ts).
import 'reflect-metadata';
// First of the kit's own modules: loading this file holds the PGlite copies an earlier test file of
// this process left, until this one copies its snapshot (pglite-copies.ts).
import './pglite-copies';
export { createTestGateway, type TestGateway, type TestGatewayOptions } from './gateway';
export type { Execute, OperationOptions } from './execute';
export type { Subscribe } from './subscription-runner';
export { TestSubscription, DEFAULT_NEXT_TIMEOUT_MS } from './test-subscription';
export type { PublishedEvent, EventsOptions } from './events';
export type { Fixtures, UserFixture, ProductFixture, OrderFixture } from './fixtures';
export type { As, DemoAccountName } from './viewer';
export type { GraphQLResult, ResultOf, TypedDocument, VariablesOf } from './typed-document';
export { SNAPSHOT_SEED, type SnapshotSeed } from './database';
export { streamgateMatchers, type ExpectedEvent } from './matchers';
