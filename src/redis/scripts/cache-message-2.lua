--[[
  Sets one cache entry with its TTL and records its deadline in the daemon's due index, in
  one step (docs/redis-data-model.md: the due score is written by the script that sets the
  TTL; a refreshed TTL overwrites the score).

  Input:
    KEYS[1] cache key (e.g. {p}message:{id})
    KEYS[2] {p}expiry:due

    ARGV[1] value (JSON)
    ARGV[2] TTL in seconds

  Output:
    1
]]
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl * 1000

redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
redis.call('ZADD', KEYS[2], deadline, KEYS[1])
return 1
