-- readOrLease-n: for each cache entry, its value; or, on a miss, a lease to fill it (memcached-at-
-- Facebook style); or word that another reader holds the lease and this one should wait. With
-- each value or lease, the key's versions (includes/entryVersions.lua), read in the same step: a
-- response that used the value (or what the lease holder then loads) is current while they are.
-- Entries are hash fields: an entity is one key with one field, a list scope one key with a field
-- per page. Leases live in a parallel hash.
-- KEYS: value key 1, lease key 1, value key 2, lease key 2, ..., then the type's versions hash
-- ARGV: token (the lease's; with "/<n>" appended, key n's new versions), lease TTL ms, versions TTL
--       ms, '1' if the type has a volatile part else '0', then per entry: field, key id
-- Reply: per entry three elements: the value (a string), 1 (lease taken: load it and write it
--        back) or 0 (another reader's live lease: wait and read again); then the stable and the
--        volatile version ('' and '' with 0)
--- @include "includes/leases"
--- @include "includes/entryVersions"
local token, leaseTtlMs, versionsTtlMs, withVolatile = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local versionsKey = KEYS[#KEYS]
local now = nowMs()
local reply = {}
for i = 1, (#KEYS - 1) / 2 do
  local valueKey, leaseKey, field, keyId = KEYS[2 * i - 1], KEYS[2 * i], ARGV[2 * i + 3], ARGV[2 * i + 4]
  local value = redis.call('HGET', valueKey, field)
  if not value and isLeaseLive(redis.call('HGET', leaseKey, field), now) then
    reply[3 * i - 2], reply[3 * i - 1], reply[3 * i] = 0, '', ''
  else
    if not value then
      redis.call('HSET', leaseKey, field, token .. '@' .. (now + leaseTtlMs))
      redis.call('PEXPIRE', leaseKey, leaseTtlMs)
    end
    reply[3 * i - 2] = value or 1
    reply[3 * i - 1], reply[3 * i] = entryVersions(versionsKey, keyId, token .. '/' .. i, versionsTtlMs, withVolatile)
  end
end
return reply
