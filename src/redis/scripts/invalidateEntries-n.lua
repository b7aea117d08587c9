#!lua flags=allow-oom
-- invalidateEntries-n: the one cache invalidation (src/cache/invalidation.ts), run by the outbox
-- relay for every event. Forgets the stale keys of one cache type, with their leases (so a reader
-- that loaded before the write cannot put its older value back) and their versions (so no cached
-- response recorded with them is served again; includes/entryVersions.lua). Either whole keys, or
-- only their volatile part (a product's stock: the row and the "<keyId>!" version go, the stable
-- version stays, so responses that read only stable fields keep their hits). Replaces the type's
-- generation with a token never used before (and, for whole keys, its generation of stable
-- changes): a fill of rows read before this moment (fillUnchanged) is refused, and a cached
-- response of a type whose generation moved has its versions checked (readResponse-n). Tokens,
-- not counters: a counter that was evicted and counted up again could repeat an old value.
-- allow-oom: a cache instance full under `noeviction` must still be able to forget entries.
-- KEYS: the type's generation key, its stable-changes generation key, its versions hash, then
--       value key 1, lease key 1, value key 2, lease key 2, ...
-- ARGV: the new generation token, 'all' or 'volatile', the entity field, then key id 1, key id 2, ...
-- Reply: the number of values, leases and versions deleted
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[2] == 'all' then
  redis.call('SET', KEYS[2], ARGV[1])
end
local deleted = 0
for i = 4, #ARGV do
  local valueKey, leaseKey = KEYS[2 * i - 4], KEYS[2 * i - 3]
  if ARGV[2] == 'all' then
    deleted = deleted + redis.call('HDEL', KEYS[3], ARGV[i], ARGV[i] .. '!') + redis.call('DEL', valueKey, leaseKey)
  else
    deleted = deleted + redis.call('HDEL', KEYS[3], ARGV[i] .. '!') + redis.call('HDEL', valueKey, ARGV[3]) + redis.call('DEL', leaseKey)
  end
end
return deleted
