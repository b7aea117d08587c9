-- fillUnchanged-n: caches rows that were read without leases (the rows of a list page, read by
-- the page query), but only if no entry of their type was invalidated since the reader looked at
-- the type's generation before its query: otherwise a row may predate a write, and nothing is
-- written. Existing values are left alone (they are at least as fresh). Returns each key's
-- versions, which a response that used the rows is then stored with.
-- KEYS: the type's generation key, the type's versions hash, then value key 1, value key 2, ...
-- ARGV: the generation read before the query, token for new versions (with "/<n>" appended for
--       key n), versions TTL ms, '1' if the type has a volatile part else '0', then per entry:
--       field, value, TTL ms, key id
-- Reply: { number of entries written, stable version 1, volatile version 1, stable version 2, ... },
--        or -1 when the generation moved (or was evicted)
--- @include "includes/entryVersions"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local withVolatile = ARGV[4] == '1'
local reply = { 0 }
for i = 1, #KEYS - 2 do
  local field, value, ttlMs, keyId = ARGV[4 * i + 1], ARGV[4 * i + 2], tonumber(ARGV[4 * i + 3]), ARGV[4 * i + 4]
  if redis.call('HSETNX', KEYS[i + 2], field, value) == 1 then
    redis.call('PEXPIRE', KEYS[i + 2], ttlMs)
    reply[1] = reply[1] + 1
  end
  reply[2 * i], reply[2 * i + 1] = entryVersions(KEYS[2], keyId, ARGV[2] .. '/' .. i, tonumber(ARGV[3]), withVolatile)
end
return reply
