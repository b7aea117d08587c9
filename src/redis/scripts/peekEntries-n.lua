-- peekEntries-n: how waiting readers look at entries another reader holds the lease of, without
-- taking a lease themselves: the value once it is there, else whether a live lease still covers it.
-- KEYS: value key 1, lease key 1, value key 2, lease key 2, ...
-- ARGV: field 1, field 2, ...
-- Reply: per entry, the value (a string), 0 (a live lease: keep waiting) or 1 (neither: the lease
--        was invalidated or expired, so read again and maybe take the lease)
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local reply = {}
for i = 1, #KEYS / 2 do
  local value = redis.call('HGET', KEYS[2 * i - 1], ARGV[i])
  if value then
    reply[i] = value
  else
    local lease = redis.call('HGET', KEYS[2 * i], ARGV[i])
    local leaseExpiresMs = lease and tonumber(string.match(lease, '@(%d+)$'))
    reply[i] = (leaseExpiresMs and leaseExpiresMs > nowMs) and 0 or 1
  end
end
return reply
