-- readGenerations-n: the generations of one cache type (any change, and stable changes), missing
-- ones set now (includes/responseGenerations.lua). On a Redis Cluster, where readResponse-n cannot
-- reach every type's keys from one slot, a response lookup reads each type's generations with
-- this, on the type's own slot, alongside the GET of the response.
-- KEYS: the type's generation keys
-- ARGV: a token for missing generations (with "/<n>" appended for key n)
-- Reply: the generations, in the order of KEYS
--- @include "includes/responseGenerations"
return currentGenerations(KEYS, ARGV[1])
