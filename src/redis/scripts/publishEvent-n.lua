-- publishEvent-n: publishes one outbox row, atomically: XADD to its domain stream (the entry names
-- the database the row came from), the L1 invalidation messages of what the event made stale (the
-- Redis cache entries were deleted just before, by invalidateEntries on the cache's instance), the
-- subscription messages, and the announcement that lets the mutation that wrote the row return.
-- Republishing the same row returns the first stream id and does nothing else (the marker is the
-- row's database's own: another database's row with the same outbox id is another row).
-- A Redis that lost writes the relay saw acknowledged (a replica promoted before it received them)
-- is refused with LOSTWRITES, so nothing newer lands in a stream before the lost rows are back;
-- the relay then republishes those under the stream ids they first had (events/failover-recheck.ts).
-- On a Redis Cluster the subscription channels are on slots of their own, which a script cannot
-- publish to: the relay is given no channels, and publishes the returned message to them itself
-- (SPUBLISH), whether the row was published now or before (a relay may have died in between).
-- KEYS: published marker of the row, the stream, the database's last published outbox id
-- ARGV: database identity, marker TTL s, stream MAXLEN, L1 channel, outbox channel, outbox id,
--       the last published outbox id this Redis must hold already (0: no check), the stream id to
--       reuse ("*": a new one), the publish command (PUBLISH, or SPUBLISH on a Redis Cluster: the
--       L1 and outbox channels share the stream's slot), M (L1 messages), the M L1 messages, C
--       (subscription channels), the C channels, then the entry's field/value pairs, the last
--       being the event JSON.
--       Subscribers get {"cursor":<stream id>,"database":<identity>,"event":<event>}; the outbox
--       channel "<database identity> <outbox id> <stream id>".
-- Reply: { stream entry id, 1 if published now or 0 if it had been before, the subscribers'
--        message }, or a LOSTWRITES error
local publish = ARGV[9]
local messageCount = tonumber(ARGV[10])
local channelCount = tonumber(ARGV[11 + messageCount])
local firstChannel = 12 + messageCount
local function subscribersMessage(id)
  return '{"cursor":"' .. id .. '","database":"' .. ARGV[1] .. '","event":' .. ARGV[#ARGV] .. '}'
end

local existing = redis.call('GET', KEYS[1])
if existing then
  return { existing, 0, subscribersMessage(existing) }
end
local lastPublished = tonumber(redis.call('GET', KEYS[3]) or '0')
if lastPublished < tonumber(ARGV[7]) then
  return redis.error_reply('LOSTWRITES this Redis holds outbox rows up to ' .. lastPublished .. ', the relay saw ' .. ARGV[7] .. ' published')
end
local fields = { 'database', ARGV[1] }
for i = firstChannel + channelCount, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local id
if ARGV[8] ~= '*' then
  -- The first id is reused when the stream's tail is older (it is, when only the tail was lost).
  local reused = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], ARGV[8], unpack(fields))
  if type(reused) == 'string' then id = reused end
end
if not id then
  id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
end
redis.call('SET', KEYS[1], id, 'EX', ARGV[2])
if lastPublished < tonumber(ARGV[6]) then
  redis.call('SET', KEYS[3], ARGV[6])
end
for i = 11, 10 + messageCount do
  redis.call(publish, ARGV[4], ARGV[i])
end
local message = subscribersMessage(id)
for i = firstChannel, firstChannel + channelCount - 1 do
  redis.call(publish, ARGV[i], message)
end
redis.call(publish, ARGV[5], ARGV[1] .. ' ' .. ARGV[6] .. ' ' .. id)
return { id, 1, message }
