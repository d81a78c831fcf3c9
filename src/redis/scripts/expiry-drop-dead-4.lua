--[[
  Gives up on a dead letter (the dead-letter CLI's "drop"): removes it with its shadow,
  attempt count and the conversation's pending entry, so the message is forgotten for
  good. A key that is not a dead letter is left alone (it may be in flight again).

  Input:
    KEYS[1] {p}expiry:dead
    KEYS[2] {p}expiry:shadow
    KEYS[3] {p}expiry:attempts
    KEYS[4] {p}pending:{a}:{b} of the message, or any key when ARGV[2] is ''

    ARGV[1] cache key
    ARGV[2] message id ('' when the entry has no shadow)

  Output:
    1 dropped, 0 not a dead letter
]]
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('ZREM', KEYS[4], ARGV[2])
end
return 1
