-- readResponse-1: a cached whole response, if every cache key it was computed from still has the
-- version it had then (a hit costs this one round trip). The stored value is
-- "<digest> <dependencies>\n<body>": dependencies are "<type>:<key id>,<key id>,...;<type>:..."
-- (the keys are the value key prefix followed by "<type>:<key id>"; a key id ending in "!" stands
-- for the key's volatile version "~v!", else it is its stable version "~v"), and the digest is the
-- SHA-1 of the versions joined by ",", in that order. A version that is gone (invalidated, expired,
-- evicted) never comes back: versions are never reused (includes/entryVersions.lua).
-- The dependency keys are named by the stored value, not in KEYS: standalone and Sentinel only.
-- KEYS: the response key
-- ARGV: the value key prefix
-- Reply: the body, or false (absent or out of date)
local stored = redis.call('GET', KEYS[1])
if not stored then
  return false
end
local headerEnd = string.find(stored, '\n', 1, true)
local space = headerEnd and string.find(stored, ' ', 1, true)
if not space or space > headerEnd then
  return false
end
local versions = {}
for group in string.gmatch(string.sub(stored, space + 1, headerEnd - 1), '[^;]+') do
  local colon = string.find(group, ':', 1, true)
  local typePrefix = ARGV[1] .. string.sub(group, 1, colon)
  for keyId in string.gmatch(string.sub(group, colon + 1), '[^,]+') do
    local version
    if string.sub(keyId, -1) == '!' then
      version = redis.call('HGET', typePrefix .. string.sub(keyId, 1, -2), '~v!')
    else
      version = redis.call('HGET', typePrefix .. keyId, '~v')
    end
    if not version then
      return false
    end
    versions[#versions + 1] = version
  end
end
if redis.sha1hex(table.concat(versions, ',')) ~= string.sub(stored, 1, space - 1) then
  return false
end
return string.sub(stored, headerEnd + 1)
