-- readResponse-n: a cached whole response, if every cache key it was computed from still has the
-- version it had then (one round trip, hit or miss). The stored value is the header's length (8
-- digits), the header, then the body; the header has one group per cache type, ";"-separated:
--   "<slot>|<generation>|<digest>|<type>|<field>,<field>,..."
-- where <generation> is the type's generation (KEYS[slot + 2]) when the request that computed the
-- response began. Every invalidation of the type replaces the generation, so while it is unchanged
-- nothing of the type changed since; otherwise the versions are checked
-- (includes/responseVersions.lua).
-- On a miss, the generations in force (missing ones set now) are returned: the request that computes
-- the response records them.
-- The versions hashes are named by the stored value, not in KEYS: standalone and Sentinel only (on
-- a Redis Cluster, response-cache.ts checks each type on its own slot: readGenerations-n,
-- checkResponseVersions-1).
-- KEYS: the response key, then the generation keys (any change, or stable changes, of each type)
-- ARGV: what comes before and after the type in a versions key (keys.ts cacheVersionsAround), a
--       token for missing generations (with "/<n>" appended for key n)
-- Reply: the stored value (header and body: the gateway keeps the header with an in-process copy),
--        or a miss: { 0, generation 1, generation 2, ... }
--- @include "includes/responseGenerations"
--- @include "includes/responseVersions"
local generations = currentGenerations({ unpack(KEYS, 2) }, ARGV[3])

-- Whether every group of the header is current: its generation unchanged, else its versions.
local function isCurrent(header)
  local position = 1
  while position <= #header do
    local groupEnd = (string.find(header, ';', position, true) or #header + 1) - 1
    local slotEnd = string.find(header, '|', position, true)
    local generationEnd = slotEnd and string.find(header, '|', slotEnd + 1, true)
    if not generationEnd or generationEnd > groupEnd then
      return false
    end
    local slot = tonumber(string.sub(header, position, slotEnd - 1))
    if generations[slot + 1] ~= string.sub(header, slotEnd + 1, generationEnd - 1) then
      local dependencies = string.sub(header, generationEnd + 1, groupEnd)
      local versionsType = string.match(dependencies, '^%x+|([^|]+)|')
      if not versionsType or not areVersionsCurrent(ARGV[1] .. versionsType .. ARGV[2], dependencies) then
        return false
      end
    end
    position = groupEnd + 2
  end
  return true
end

-- Only the header is checked in Lua (its length is the value's first 8 characters).
local headerLength = tonumber(redis.call('GETRANGE', KEYS[1], 0, 7))
if headerLength and isCurrent(redis.call('GETRANGE', KEYS[1], 8, 7 + headerLength)) then
  return redis.call('GET', KEYS[1])
end
table.insert(generations, 1, 0)
return generations
