--[[
  Sets one cache entry with its TTL and records its deadline in the daemon's due index, in
  one step (docs/redis-data-model.md: the due score is written by the script that sets the
  TTL; a refreshed TTL overwrites the score).

  With a third key, only if that guard key (a conversation's convgen) still holds the value
  read before the data was loaded from MongoDB: a read racing with an edit or delete then
  cannot put the old version back into the cache. (2 keys, or 3 with the guard.)

  Input:
    KEYS[1] cache key (e.g. {p}message:{id})
    KEYS[2] {p}expiry:due
    KEYS[3] optional guard key, e.g. {p}convgen:{a}:{b}

    ARGV[1] value (JSON)
    ARGV[2] TTL in seconds
    ARGV[3] with a guard: its expected value; '' = the guard key must not exist

  Output:
    1 - cached
    0 - not cached: the guard changed
]]
if KEYS[3] then
  local current = redis.call('GET', KEYS[3]) or ''
  if current ~= ARGV[3] then
    return 0
  end
end

local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl * 1000

redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
redis.call('ZADD', KEYS[2], deadline, KEYS[1])
return 1
