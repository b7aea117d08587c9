-- publishEvent-n: publishes one outbox row, atomically: XADD to its domain stream, the cache
-- invalidation of everything the event made stale (DEL value and lease, INCR the type's generation,
-- PUBLISH the L1 message, exactly as invalidateEntries does), and the announcement that lets the
-- mutation that wrote the row return. One script, so no reader sees the event while a stale cache
-- entry of it survives. Republishing the same row returns the first stream id and does nothing.
-- KEYS: published marker of the row, the stream, then G generation keys, then the value and lease
--       keys to delete
-- ARGV: marker TTL s, stream MAXLEN, G, L1 channel, outbox channel, outbox id, M (L1 messages),
--       the M L1 messages, C (subscription channels), the C channels, then the entry's field/value
--       pairs, the last being the event JSON. Subscribers get {"cursor":<stream id>,"event":<event>}.
-- Reply: the stream entry id
local existing = redis.call('GET', KEYS[1])
if existing then
  return existing
end
local generationCount = tonumber(ARGV[3])
local messageCount = tonumber(ARGV[7])
local channelCount = tonumber(ARGV[8 + messageCount])
local firstChannel = 9 + messageCount
local fields = {}
for i = firstChannel + channelCount, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
redis.call('SET', KEYS[1], id, 'EX', ARGV[1])
for i = 3, 2 + generationCount do
  redis.call('INCR', KEYS[i])
end
if #KEYS > 2 + generationCount then
  redis.call('DEL', unpack(KEYS, 3 + generationCount))
end
for i = 8, 7 + messageCount do
  redis.call('PUBLISH', ARGV[4], ARGV[i])
end
local message = '{"cursor":"' .. id .. '","event":' .. ARGV[#ARGV] .. '}'
for i = firstChannel, firstChannel + channelCount - 1 do
  redis.call('PUBLISH', ARGV[i], message)
end
redis.call('PUBLISH', ARGV[5], ARGV[6] .. ' ' .. id)
return id
