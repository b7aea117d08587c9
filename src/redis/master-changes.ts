// Tells when the master holding a key may have changed: the moment a relay checks whether that
// master lost writes (events/failover-recheck.ts). One server (or Sentinel's master): every
// (re)connect, which after a failover reaches the promoted replica. A Redis Cluster: the
// connection stays up while one master fails over, so it is every refresh of the slot map that
// moves the key's slot to another node.
import type { RedisClient } from './client';
import { isCluster } from './client';

/** Calls `onChange` whenever the master of `key` may have changed; returns a function that stops it. */
export function watchMasterOf(redis: RedisClient, key: string, onChange: () => void): () => void {
  if (!isCluster(redis)) {
    redis.on('ready', onChange);
    return () => redis.off('ready', onChange);
  }
  let slot: number | undefined;
  let master: string | undefined;
  const onRefresh = () => {
    if (slot === undefined) return;
    const now = redis.slots[slot]?.[0];
    if (master !== undefined && now !== master) onChange();
    master = now;
  };
  // The slot is asked of the cluster once (CLUSTER KEYSLOT): the hashing stays Redis's own.
  void redis.cluster('KEYSLOT', key).then(
    (found) => {
      slot = Number(found);
      onRefresh();
    },
    () => undefined,
  );
  redis.on('refresh', onRefresh);
  return () => redis.off('refresh', onRefresh);
}
