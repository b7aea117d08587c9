-- releaseLeases-n: gives up the leases of entries whose load failed, so readers waiting on them
-- (peekEntries) see neither value nor live lease and read again at once, instead of waiting until
-- the lease expires. A lease is deleted only while it still holds this reader's token: an
-- invalidation may have deleted it since, and another reader taken the entry.
-- KEYS: lease key 1, lease key 2, ...
-- ARGV: lease token, field 1, field 2, ...
-- Reply: the number of leases released
--- @include "includes/leases"
local released = 0
for i = 1, #KEYS do
  local field = ARGV[i + 1]
  if isLeaseOf(redis.call('HGET', KEYS[i], field), ARGV[1]) then
    redis.call('HDEL', KEYS[i], field)
    released = released + 1
  end
end
return released
