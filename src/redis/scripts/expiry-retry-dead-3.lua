--[[
  Moves a dead letter back to the due index, due now, with its attempt count reset
  (the dead-letter CLI's "retry"). A key that is not a dead letter is left alone.

  Input:
    KEYS[1] {p}expiry:dead
    KEYS[2] {p}expiry:due
    KEYS[3] {p}expiry:attempts

    ARGV[1] cache key

  Output:
    1 moved back, 0 not a dead letter
]]
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[1])
return 1
