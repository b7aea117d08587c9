-- areVersionsCurrent(versionsKey, dependencies): whether the dependencies a response recorded on
-- one cache type, "<digest>|<type>|<field>,<field>,...", still have the versions it read: the
-- fields name versions in the type's versions hash ("<key id>" for a key's stable version,
-- "<key id>!" for its volatile one, includes/entryVersions.lua), and the SHA-1 of their values
-- (joined by ",") must equal <digest>. A version that is gone (invalidated, evicted) never comes
-- back: tokens are never reused.
local function areVersionsCurrent(versionsKey, dependencies)
  local digest, ids = string.match(dependencies, '^(%x+)|[^|]+|(.+)$')
  if not digest then
    return false
  end
  local fields = {}
  for field in string.gmatch(ids, '[^,]+') do
    fields[#fields + 1] = field
  end
  local versions = redis.call('HMGET', versionsKey, unpack(fields))
  for i = 1, #versions do
    if not versions[i] then
      return false
    end
  end
  return redis.sha1hex(table.concat(versions, ',')) == digest
end
