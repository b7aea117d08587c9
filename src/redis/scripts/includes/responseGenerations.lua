-- currentGenerations(generationKeys, token): the values of generation keys (a cache type's
-- generation, and of its stable changes), setting each missing one to `token` .. "/<n>" (for its
-- place n): a token never used before, so a response recorded with it is checked by its versions
-- after any later invalidation.
local function currentGenerations(generationKeys, token)
  local generations = redis.call('MGET', unpack(generationKeys))
  for i = 1, #generationKeys do
    if not generations[i] then
      generations[i] = token .. '/' .. i
      redis.call('SET', generationKeys[i], generations[i])
    end
  end
  return generations
end
