-- invalidateEntries-n: deletes cached values together with their leases, so a reader that loaded
-- before the write cannot put its (older) value back; bumps the type's generation, so a fill of
-- rows read before this moment (fillUnchanged) is refused; then tells every replica to drop the
-- same entries from its in-process L1. The outbox relay's publish script does the same.
-- KEYS: the type's generation key, then value key 1, lease key 1, value key 2, lease key 2, ...
-- ARGV: L1 invalidation channel, message ("<type> <id> <id> ...")
-- Reply: the number of value and lease keys deleted
redis.call('INCR', KEYS[1])
local deleted = redis.call('DEL', unpack(KEYS, 2))
redis.call('PUBLISH', ARGV[1], ARGV[2])
return deleted
