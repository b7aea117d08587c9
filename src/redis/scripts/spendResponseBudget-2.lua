-- spendResponseBudget-2: spends a response's bytes from the client's and the deployment's byte
-- budgets of the current window if both have room for it (all or nothing: a client over its own
-- budget spends nothing of the total). Each budget is a counter that starts with the first spend
-- of its window and expires with it. The caller then stores the response (response-cache.ts): a
-- store that fails after the spend leaves the budget spent, which only errs on the side of storing less.
-- KEYS: the client's budget counter, the deployment's budget counter
-- ARGV: cost in bytes, the client's budget, the deployment's budget, window ms
-- Reply: 1 spent, 0 over a budget (nothing spent)
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
return 1
