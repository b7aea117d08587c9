-- storeResponse-3: stores a whole response if the client's and the deployment's byte budgets of
-- the current window both have room for it, and spends it from both (one round trip, all or
-- nothing: a client over its own budget spends nothing of the total). Each budget is a counter that
-- starts with the first store of its window and expires with it.
-- KEYS: the client's budget counter, the deployment's budget counter, the response key
-- ARGV: cost in bytes, the client's budget, the deployment's budget, window ms, response TTL ms,
--       the stored value
-- Reply: 1 stored, 0 over a budget (nothing stored or spent)
local cost = tonumber(ARGV[1])
for i = 1, 2 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') + cost > tonumber(ARGV[i + 1]) then
    return 0
  end
end
for i = 1, 2 do
  if redis.call('INCRBY', KEYS[i], cost) == cost then
    redis.call('PEXPIRE', KEYS[i], ARGV[4])
  end
end
redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[5])
return 1
