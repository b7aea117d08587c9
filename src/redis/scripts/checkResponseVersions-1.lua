-- checkResponseVersions-1: whether the dependencies a cached response recorded on one cache type
-- still have the versions it read (includes/responseVersions.lua). On a Redis Cluster, a response
-- lookup runs this on each type's slot whose generation moved since the response was computed.
-- KEYS: the type's versions hash
-- ARGV: the header group's dependencies, "<digest>|<type>|<field>,<field>,..."
-- Reply: 1 current, 0 not
--- @include "includes/responseVersions"
return areVersionsCurrent(KEYS[1], ARGV[1]) and 1 or 0
