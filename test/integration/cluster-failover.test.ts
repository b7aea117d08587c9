// A gateway on a Redis Cluster (3 masters, a replica each) across the failover of the master that
// holds the hot slot of writes, `{events}` (every stream, the published markers, the publish
// announcements), and the slot of the product's subscription channel (sharded pub/sub): with the
// even slot split of a 3-master cluster both are on the second master. It is SIGKILLed in the
// middle of a loop of writes with subscribers listening, and the cluster promotes its replica. The
// same guarantees as on Sentinel (support/failover-loop.ts): mutations succeed once the replica is
// promoted, every subscriber ends with exactly the events the stream holds (their sharded
// subscriptions move to the promoted replica and they catch up from the stream), and no read is
// older than an acknowledged write. (Resharding: cluster-resharding.test.ts.)
//
// The Cluster here is the test's own whatever TEST_REDIS_TOPOLOGY says: it kills masters.
import { FAILOVER_PRODUCT_ID, failoverLoopScenario, ownFailoverRedis } from '../support/failover-loop';
import { startOwnClusterSetup } from '../../src/testing/redis-topology';

const { redis, control } = ownFailoverRedis(() => startOwnClusterSetup({ replicasPerMaster: 1 }));

describe('a failover of the master of the events slot and of the subscription channel during a write-and-subscribe loop', () => {
  const events = () => redis().keys.stream('catalog');
  failoverLoopScenario({
    label: 'cluster failover',
    redis,
    control,
    // One kill takes both: the loop's events and its subscribers' channel.
    check: async () => expect(await redis().cluster.masterOf(redis().keys.channel('product', FAILOVER_PRODUCT_ID))).toEqual(await redis().cluster.masterOf(events())),
    kill: () => redis().cluster.killMasterOf(events()),
  });
});
