#!lua flags=allow-oom
-- invalidateEntries-n: the one cache invalidation (src/cache/invalidation.ts), run by the outbox
-- relay for every event. Forgets the stale keys of one cache type, with their leases, so a reader
-- that loaded before the write cannot put its (older) value back. Either whole keys (DEL: values
-- and both versions, includes/entryVersions.lua), or only their volatile part (a product's stock:
-- the row and the "~v!" version go, "~v" stays, so responses that read only stable fields keep
-- their hits). Sets the type's generation to a token never used before, so a fill of rows read
-- before this moment (fillUnchanged) is refused (a token, not a counter: a counter that was
-- evicted and counted up again could repeat an old value).
-- allow-oom: a cache instance full under `noeviction` must still be able to forget entries.
-- KEYS: the type's generation key, then value key 1, lease key 1, value key 2, lease key 2, ...
-- ARGV: the new generation token, 'all' or 'volatile', the entity field (with 'volatile')
-- Reply: the number of keys deleted or changed
redis.call('SET', KEYS[1], ARGV[1])
if #KEYS == 1 then
  return 0
end
if ARGV[2] == 'all' then
  return redis.call('DEL', unpack(KEYS, 2))
end
local changed = 0
for i = 2, #KEYS, 2 do
  changed = changed + redis.call('HDEL', KEYS[i], ARGV[3], '~v!') + redis.call('DEL', KEYS[i + 1])
end
return changed
