// A gateway on a 3-master Redis Cluster while the slot of its subscribers' channel moves to another
// master (resharding, as `redis-cli --cluster reshard` does it slot by slot) in the middle of a
// loop of writes. The old master unsubscribes the slot's channels by itself, which ioredis does
// not report: the replica subscribes them again on the new master once its slot map is refreshed,
// and its subscribers catch up from the stream for what was published in between
// (src/redis/sharded-subscriber.ts). The guarantees are the failover tests' (support/failover-loop.ts):
// every subscriber ends with exactly the events of the stream, and no read is older than an
// acknowledged write.
//
// The Cluster here is the test's own whatever TEST_REDIS_TOPOLOGY says: it moves slots.
import { FAILOVER_PRODUCT_ID, failoverLoopScenario, ownFailoverRedis } from '../support/failover-loop';
import { startOwnClusterSetup } from '../../src/testing/redis-topology';

const { redis, control } = ownFailoverRedis(() => startOwnClusterSetup());

describe("a move of the subscription channel's slot to another master during a write-and-subscribe loop", () => {
  const channel = () => redis().keys.channel('product', FAILOVER_PRODUCT_ID);
  failoverLoopScenario({
    label: 'cluster resharding',
    redis,
    control,
    // Only the channel's slot moves (not the events' slot: the writes never wait for it).
    kill: () => redis().cluster.moveSlotOf(channel()),
  });
});
