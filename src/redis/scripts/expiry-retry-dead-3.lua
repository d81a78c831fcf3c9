--[[
  Moves a dead letter back to the due index (a slot, lib/due-slots.lua), due now, with its
  attempt count reset (the dead-letter CLI's "retry"). A key that is not a dead letter is
  left alone.

  Input:
    KEYS[1] {p}expiry:dead
    KEYS[2] {p}expiry:slots
    KEYS[3] {p}expiry:attempts

    ARGV[1] cache key

  Output:
    1 moved back, 0 not a dead letter
]]
--!include lib/clock.lua
--!include lib/due-slots.lua
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local now = nowMs()
redis.call('HDEL', KEYS[3], ARGV[1])
slotAdd(KEYS[2], ARGV[1], now)
return 1
