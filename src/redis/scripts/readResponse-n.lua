-- readResponse-n: a cached whole response, if every cache key it was computed from still has the
-- version it had then (one round trip, hit or miss). The stored value is the header's length (8
-- digits), the header, then the body; the header has one group per cache type, ";"-separated:
--   "<slot>|<generation>|<digest>|<type>|<field>,<field>,..."
-- where <generation> is the type's generation (KEYS[slot + 2]) when the request that computed the
-- response began, and each field names a version in the type's versions hash (the versions key
-- prefix, the type and the suffix): "<key id>" for the key's stable version, "<key id>!" for its
-- volatile one (includes/entryVersions.lua). Every invalidation of the type replaces the
-- generation, so while it is unchanged nothing of the type changed since; otherwise the versions
-- are read and their SHA-1 (joined by ",") must equal <digest>. A version or generation that is
-- gone (invalidated, evicted) never comes back: tokens are never reused.
-- On a miss, the generations in force (missing ones set now) are returned: the request that computes
-- the response records them.
-- The versions hashes are named by the stored value, not in KEYS: standalone and Sentinel only.
-- KEYS: the response key, then the generation keys (any change, or stable changes, of each type)
-- ARGV: what comes before and after the type in a versions key (keys.ts cacheVersionsAround), a
--       token for missing generations (with "/<n>" appended for key n)
-- Reply: the body (a string), or a miss: { 0, generation 1, generation 2, ... }
local generations = redis.call('MGET', unpack(KEYS, 2))
for i = 1, #KEYS - 1 do
  if not generations[i] then
    generations[i] = ARGV[3] .. '/' .. i
    redis.call('SET', KEYS[i + 1], generations[i])
  end
end

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
      local digest, versionsType, ids = string.match(string.sub(header, generationEnd + 1, groupEnd), '^(%x+)|([^|]+)|(.+)$')
      if not digest then
        return false
      end
      local fields = {}
      for field in string.gmatch(ids, '[^,]+') do
        fields[#fields + 1] = field
      end
      local versions = redis.call('HMGET', ARGV[1] .. versionsType .. ARGV[2], unpack(fields))
      for i = 1, #versions do
        if not versions[i] then
          return false
        end
      end
      if redis.sha1hex(table.concat(versions, ',')) ~= digest then
        return false
      end
    end
    position = groupEnd + 2
  end
  return true
end

-- Only the header is copied into Lua (its length is the value's first 8 characters); the body goes
-- back to the caller straight from the stored value.
local headerLength = tonumber(redis.call('GETRANGE', KEYS[1], 0, 7))
if headerLength and isCurrent(redis.call('GETRANGE', KEYS[1], 8, 7 + headerLength)) then
  return redis.call('GETRANGE', KEYS[1], 8 + headerLength, -1)
end
table.insert(generations, 1, 0)
return generations
