// A gateway on a Redis Cluster (3 masters, a replica each) across the failover of the master that
// holds the hot slot of writes, `{events}` (every stream, the published markers, the publish
// announcements), and the slot of the product's subscription channel (sharded pub/sub): with the
// even slot split of a 3-master cluster both are on the second master. It is SIGKILLed in the
// middle of a loop of writes with subscribers listening, and the cluster promotes its replica. The
// same guarantees as on Sentinel (support/failover-loop.ts): mutations succeed once the replica is
// promoted, every subscriber ends with exactly the events the stream holds (their sharded
// subscriptions move to the promoted replica and they catch up from the stream), and no read is
// older than an acknowledged write.
//
// The Cluster here is the test's own whatever TEST_REDIS_TOPOLOGY says: it kills masters.
import type { RedisClient } from '../../src/redis/client';
import { expectFailoverKeptEverything, FAILOVER_PRODUCT_ID, PUBLISH_WAIT_MS, runFailoverLoop } from '../support/failover-loop';
import { startTestGateway, type TestGateway } from '../support/gateway';
import type { ClusterSetup } from '../support/redis-cluster';
import { startOwnClusterSetup, type TestRedis } from '../support/redis-topology';
import type { TestSubscriber } from '../support/subscriber';

let redis: TestRedis & { cluster: ClusterSetup };
let control: RedisClient;

beforeAll(async () => {
  redis = await startOwnClusterSetup({ replicasPerMaster: 1 });
  control = redis.connect({ maxRetriesPerRequest: null });
  control.on('error', () => undefined);
});

afterAll(async () => {
  control?.disconnect();
  await redis?.stop();
});

describe('a failover of the master of the events slot and of the subscription channel during a write-and-subscribe loop', () => {
  let gateway: TestGateway;
  const subscribers: TestSubscriber[] = [];

  beforeAll(async () => {
    gateway = await startTestGateway({ redis, seed: { users: 5, products: 5, orders: 5 }, env: { OUTBOX_PUBLISH_WAIT_MS: PUBLISH_WAIT_MS } });
  });

  afterAll(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.dispose()));
    await gateway?.stop();
  });

  it('keeps writing, delivers exactly the stream to every subscriber, and never serves a read older than an acknowledged write', async () => {
    const events = redis.keys.stream('catalog');
    // One kill takes both: the loop's events and its subscribers' channel.
    expect(await redis.cluster.masterOf(redis.keys.channel('product', FAILOVER_PRODUCT_ID))).toEqual(await redis.cluster.masterOf(events));
    const report = await runFailoverLoop({ label: 'cluster failover', gateway, redis, control, subscribers, kill: () => redis.cluster.killMasterOf(events) });
    expectFailoverKeptEverything(report);
  });
});
