// TEST_REDIS_TOPOLOGY / TEST_REDIS_URL pick the Redis every test file runs against
// (test/support/redis-topology.ts); a name the suite does not know must stop the run, not fall back.
import { requestedTopology } from '../../src/testing/redis-topology';

describe('requestedTopology', () => {
  it('is standalone (a redis-server per test file) when nothing is set', () => {
    expect(requestedTopology({})).toBe('standalone');
    expect(requestedTopology({ TEST_REDIS_TOPOLOGY: 'standalone' })).toBe('standalone');
  });

  it('is an external Redis when TEST_REDIS_URL names one', () => {
    expect(requestedTopology({ TEST_REDIS_URL: 'redis://127.0.0.1:6380/2' })).toBe('external');
  });

  it('is a Sentinel set-up of the test file\'s own when asked for', () => {
    expect(requestedTopology({ TEST_REDIS_TOPOLOGY: 'sentinel' })).toBe('sentinel');
  });

  it('fails loudly on a topology it does not know, naming the known ones', () => {
    expect(() => requestedTopology({ TEST_REDIS_TOPOLOGY: 'kubernetes' })).toThrow(/TEST_REDIS_TOPOLOGY=kubernetes .*\(standalone, sentinel, cluster\)/);
  });

  it('refuses a TEST_REDIS_URL that is not a redis:// URL', () => {
    expect(() => requestedTopology({ TEST_REDIS_URL: '127.0.0.1:6379' })).toThrow(/TEST_REDIS_URL must start with redis:\/\//);
  });
});
