-- applyTopProductsDelta-3: applies one order event to the top-products sorted set, exactly once.
-- The event's marker key says it was applied, so a redelivered event changes nothing. While a
-- rebuild holds the rebuild lock nothing is applied (the caller retries), so the rebuild's snapshot
-- and the markers it sets cannot miss or double-count an event. A product whose units come back to
-- exactly 0 leaves the set (a negative score is a cancellation seen before its placement: it stays,
-- so the placement brings it back to 0).
-- KEYS: the event's applied marker, the sorted set, the rebuild lock
-- ARGV: marker TTL in seconds, then product id 1, units delta 1, product id 2, units delta 2, ...
-- Reply: 1 applied, 0 already applied, -1 a rebuild is running (nothing done: try again later)
if redis.call('EXISTS', KEYS[3]) == 1 then
  return -1
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
for i = 2, #ARGV, 2 do
  local units = tonumber(redis.call('ZINCRBY', KEYS[2], ARGV[i + 1], ARGV[i]))
  if units == 0 then
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
end
return 1
