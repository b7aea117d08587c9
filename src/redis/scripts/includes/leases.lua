-- Leases are hash fields "<token>@<expiry ms>" (a hash field has no TTL of its own before Redis
-- 7.4). nowMs(): the server's clock in ms; isLeaseLive(lease, now): it has not expired;
-- isLeaseOf(lease, token): it is still the lease `token` took (not deleted or taken over since).
local function nowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function isLeaseLive(lease, now)
  local expiresMs = lease and tonumber(string.match(lease, '@(%d+)$'))
  return expiresMs and expiresMs > now or false
end

local function isLeaseOf(lease, token)
  return lease and string.sub(lease, 1, #token + 1) == token .. '@' or false
end
