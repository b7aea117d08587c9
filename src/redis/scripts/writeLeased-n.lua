-- writeLeased-n: the guarded write-back. An entry is written only while this reader's lease is
-- still the current one: an invalidation in between deleted the lease, and then the value this
-- reader loaded may be older than the write that invalidated it, so it is dropped. (The key's
-- versions, set when the lease was taken, stay as they are; if the key was evicted meanwhile, the
-- next reader gives it new ones: no invalidation came since the lease, so the value is current.)
-- KEYS: value key 1, lease key 1, value key 2, lease key 2, ...
-- ARGV: lease token, then per entry: field, value, TTL in ms
-- Reply: per entry, 1 (written) or 0 (dropped: lease gone or taken over)
--- @include "includes/leases"
local token = ARGV[1]
local reply = {}
for i = 1, #KEYS / 2 do
  local valueKey, leaseKey = KEYS[2 * i - 1], KEYS[2 * i]
  local field, value, ttlMs = ARGV[3 * i - 1], ARGV[3 * i], tonumber(ARGV[3 * i + 1])
  if isLeaseOf(redis.call('HGET', leaseKey, field), token) then
    redis.call('HSET', valueKey, field, value)
    redis.call('PEXPIRE', valueKey, ttlMs)
    redis.call('HDEL', leaseKey, field)
    reply[i] = 1
  else
    reply[i] = 0
  end
end
return reply
