-- readOrLease-n: for each cache entry, its value; or, on a miss, a lease to fill it (memcached-at-
-- Facebook style); or word that another reader holds the lease and this one should wait.
-- Entries are hash fields: an entity is one key with one field, a list scope one key with a field
-- per page. Leases live in a parallel hash; each lease carries its own expiry time, because a
-- hash field cannot have a TTL of its own (before Redis 7.4).
-- KEYS: value key 1, lease key 1, value key 2, lease key 2, ...
-- ARGV: lease token, lease TTL in ms, field 1, field 2, ...
-- Reply: per entry, the value (a string), 1 (lease taken: load it and write it back) or
--        0 (another reader's live lease: wait and read again)
local token = ARGV[1]
local leaseTtlMs = tonumber(ARGV[2])
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local reply = {}
for i = 1, #KEYS / 2 do
  local valueKey, leaseKey, field = KEYS[2 * i - 1], KEYS[2 * i], ARGV[i + 2]
  local value = redis.call('HGET', valueKey, field)
  if value then
    reply[i] = value
  else
    local lease = redis.call('HGET', leaseKey, field)
    local leaseExpiresMs = lease and tonumber(string.match(lease, '@(%d+)$'))
    if leaseExpiresMs and leaseExpiresMs > nowMs then
      reply[i] = 0
    else
      redis.call('HSET', leaseKey, field, token .. '@' .. (nowMs + leaseTtlMs))
      redis.call('PEXPIRE', leaseKey, leaseTtlMs)
      reply[i] = 1
    end
  end
end
return reply
