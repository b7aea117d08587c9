#!lua flags=allow-oom
-- invalidateEntries-n: the one cache invalidation, used by the outbox relay for every event and by
-- CacheStore.invalidate. Deletes cached values together with their leases, so a reader that loaded
-- before the write cannot put its (older) value back; sets each type's generation to a token never
-- used before, so a fill of rows read before this moment (fillUnchanged) is refused and a cached
-- response stored against the old generation is never served again (a token, not a counter: a
-- counter that was evicted and counted up again could repeat an old value and revive a response).
-- Optionally tells every replica's L1 (the relay does that from the durable instance instead).
-- allow-oom: a cache instance full under `noeviction` must still be able to forget entries.
-- KEYS: G generation keys, then value key 1, lease key 1, value key 2, lease key 2, ...
-- ARGV: G, the new generation token, L1 invalidation channel, then the L1 messages (may be none)
-- Reply: the number of value and lease keys deleted
local generationCount = tonumber(ARGV[1])
for i = 1, generationCount do
  redis.call('SET', KEYS[i], ARGV[2])
end
local deleted = 0
if #KEYS > generationCount then
  deleted = redis.call('DEL', unpack(KEYS, generationCount + 1))
end
for i = 4, #ARGV do
  redis.call('PUBLISH', ARGV[3], ARGV[i])
end
return deleted
