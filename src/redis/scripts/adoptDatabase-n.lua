-- adoptDatabase-n: notes that a process now works with a database identity. Keys derived from the
-- data carry the identity, so nothing needs deleting here, and several databases may even share
-- one Redis and prefix (each sees only its own keys and entries). When the identity differs from
-- the last one noted, every existing stream gets a boundary entry (type DatabaseReplaced) telling
-- its consumers that the entries before it are about another database's data, and every replica
-- hears of it (it then reads its own database's identity again).
-- KEYS: the last-noted identity key, then the domain streams
-- ARGV: the identity, stream MAXLEN, the database-changed channel, the publish command (PUBLISH, or
--       SPUBLISH on a Redis Cluster: the channel shares the streams' slot)
-- Reply: the identity noted before ('' when none; the same one when nothing changed)
local previous = redis.call('GET', KEYS[1])
if previous == ARGV[1] then
  return previous
end
redis.call('SET', KEYS[1], ARGV[1])
if previous then
  for i = 2, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then
      redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*', 'type', 'DatabaseReplaced', 'database', ARGV[1], 'previous', previous)
    end
  end
end
redis.call(ARGV[4], ARGV[3], ARGV[1])
return previous or ''
