-- peekEntries-n: how waiting readers look at entries another reader holds the lease of, without
-- taking a lease themselves: the value (with its key's versions) once it is there, else whether a
-- live lease still covers it.
-- KEYS: value key 1, lease key 1, value key 2, lease key 2, ..., then the type's versions hash
-- ARGV: token for new versions (with "/<n>" appended for key n), versions TTL ms, '1' if the type
--       has a volatile part else '0', then per entry: field, key id
-- Reply: per entry three elements: the value (a string), 0 (a live lease: keep waiting) or 1
--        (neither: the lease was invalidated or expired, so read again and maybe take the lease);
--        then the stable and the volatile version ('' and '' without a value)
--- @include "includes/leases"
--- @include "includes/entryVersions"
local versionsKey = KEYS[#KEYS]
local now = nowMs()
local reply = {}
for i = 1, (#KEYS - 1) / 2 do
  local field, keyId = ARGV[2 * i + 2], ARGV[2 * i + 3]
  local value = redis.call('HGET', KEYS[2 * i - 1], field)
  if value then
    reply[3 * i - 2] = value
    reply[3 * i - 1], reply[3 * i] = entryVersions(versionsKey, keyId, ARGV[1] .. '/' .. i, tonumber(ARGV[2]), ARGV[3] == '1')
  else
    reply[3 * i - 2] = isLeaseLive(redis.call('HGET', KEYS[2 * i], field), now) and 0 or 1
    reply[3 * i - 1], reply[3 * i] = '', ''
  end
end
return reply
