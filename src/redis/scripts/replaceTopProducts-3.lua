-- replaceTopProducts-3: the last step of `--rebuild top-products`: renames the staged sorted set
-- over the live one and releases the rebuild lock, but only while the lock still holds this
-- rebuild's token (a lock that expired may have let events through, and the staged set would then
-- miss them).
-- KEYS: the rebuild lock, the staged sorted set, the sorted set
-- ARGV: the rebuild's token
-- Reply: 1 replaced, 0 the lock no longer holds the token (nothing replaced, the staged set dropped)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('DEL', KEYS[2])
  return 0
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  redis.call('PERSIST', KEYS[3])
else
  redis.call('DEL', KEYS[3])
end
redis.call('DEL', KEYS[1])
return 1
