-- entryVersions(key, token, ttlMs, withVolatile): the versions of a cache key (an entity, or a
-- list scope): "~v", and for a type with a volatile part (a product's stock) also "~v!". A version
-- that is missing is set to `token` (plus "!" for the volatile one), which must never have been
-- used before; a key created just for them expires after ttlMs.
-- Invalidating a key deletes it whole, versions included; invalidating only its volatile part
-- deletes its value and "~v!" and keeps "~v". Nothing else ever changes them: while "~v" is in
-- force no change to the key's stable part came since it was set, while "~v!" is, no change at
-- all. So a cached response recorded with them is current while they are.
-- Returns the stable version, then the volatile one ('' without withVolatile).
local function entryVersions(key, token, ttlMs, withVolatile)
  local versions = redis.call('HMGET', key, '~v', '~v!')
  local stable, volatile = versions[1], versions[2]
  if not stable then
    stable = token
    redis.call('HSET', key, '~v', stable)
  end
  if withVolatile and not volatile then
    volatile = token .. '!'
    redis.call('HSET', key, '~v!', volatile)
  end
  if redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, ttlMs)
  end
  return stable, withVolatile and volatile or ''
end
