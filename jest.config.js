/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // examples/: the worked example of docs/extending.md runs its tests in CI, so the guide cannot rot.
  roots: ['<rootDir>/test', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  setupFiles: ['reflect-metadata'],
  // The test kit's matchers (toHaveGraphQLError, toHavePublished), as a team's config adds them.
  setupFilesAfterEnv: ['<rootDir>/src/testing/jest.ts'],
  // The package's own subpath exports, resolved to the sources (the build is not needed to test).
  moduleNameMapper: {
    '^streamgate/testing$': '<rootDir>/src/testing/index.ts',
    '^streamgate/testing/jest$': '<rootDir>/src/testing/jest.ts',
  },
  testTimeout: 60_000,
  // Each test file starts its own redis-server and database; two cores, two workers.
  maxWorkers: 2,
};
