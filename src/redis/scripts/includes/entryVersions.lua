-- entryVersions(versionsKey, keyId, token, ttlMs, withVolatile): the versions of one cache key (an
-- entity, or a list scope), kept in its type's versions hash (one hash per cache type, so a cached
-- response's dependencies are checked with one HMGET per type): field "<keyId>", and for a type
-- with a volatile part (a product's stock) also "<keyId>!". A version that is missing is set to
-- `token` (plus "!" for the volatile one), which must never have been used before; the hash then
-- lives another ttlMs.
-- Invalidating a key deletes both its versions; invalidating only its volatile part deletes
-- "<keyId>!" and keeps "<keyId>". Nothing else ever changes them: while the stable version is in
-- force no change to the key's stable part came since it was set, while the volatile one is, no
-- change at all. So a cached response recorded with them is current while they are. (Losing a
-- value, or the whole hash, to eviction or expiry changes nothing of that: a lost version matches
-- no response, and a lost value is loaded again from the database.)
-- Returns the stable version, then the volatile one ('' without withVolatile).
local function entryVersions(versionsKey, keyId, token, ttlMs, withVolatile)
  local versions = redis.call('HMGET', versionsKey, keyId, keyId .. '!')
  local stable, volatile = versions[1], versions[2]
  local isNew = false
  if not stable then
    stable = token
    redis.call('HSET', versionsKey, keyId, stable)
    isNew = true
  end
  if withVolatile and not volatile then
    volatile = token .. '!'
    redis.call('HSET', versionsKey, keyId .. '!', volatile)
    isNew = true
  end
  if isNew then
    redis.call('PEXPIRE', versionsKey, ttlMs)
  end
  return stable, withVolatile and volatile or ''
end
