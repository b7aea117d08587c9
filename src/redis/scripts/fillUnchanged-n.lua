-- fillUnchanged-n: caches rows that were read without leases (the rows of a list page, read by
-- the page query), but only if no entry of their type was invalidated since the reader looked at
-- the type's generation before its query: otherwise a row may predate a write, and nothing is
-- written. Existing values are left alone (they are at least as fresh).
-- KEYS: the type's generation key, then value key 1, value key 2, ...
-- ARGV: the generation read before the query, then per entry: field, value, TTL in ms
-- Reply: the number of entries written, or -1 when the generation moved (or was evicted)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local written = 0
for i = 2, #KEYS do
  local field, value, ttlMs = ARGV[3 * i - 4], ARGV[3 * i - 3], tonumber(ARGV[3 * i - 2])
  if redis.call('HSETNX', KEYS[i], field, value) == 1 then
    redis.call('PEXPIRE', KEYS[i], ttlMs)
    written = written + 1
  end
end
return written
