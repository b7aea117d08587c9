-- adoptDatabase-n: binds this Redis to a database identity. Keys derived from the data carry the
-- identity, so they need no deleting here; the streams, which keep their names, get a boundary
-- entry (type DatabaseReplaced) that a subscriber resuming from an older cursor cannot get past
-- (CURSOR_EXPIRED), and every replica hears of the change. A Redis bound to no identity yet (new,
-- or emptied) gets no boundary: no cursor into it can be resumed anyway.
-- KEYS: the identity key, then the domain streams
-- ARGV: the identity, stream MAXLEN, the database-changed channel
-- Reply: the previous identity ('' when there was none), or false when already bound to this one
local previous = redis.call('GET', KEYS[1])
if previous == ARGV[1] then
  return false
end
redis.call('SET', KEYS[1], ARGV[1])
if previous then
  for i = 2, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then
      redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*', 'type', 'DatabaseReplaced', 'database', ARGV[1], 'previous', previous)
    end
  end
end
redis.call('PUBLISH', ARGV[3], ARGV[1])
return previous or ''
