--[[
  Replaces a conversation's cached list with messages read from MongoDB (+ pending ones),
  but only if no write touched the conversation since the generation was read, before the
  MongoDB read: otherwise the fill could hide a newer send, edit or delete. Message entries
  pointing into the list it replaces get their JSON back first (lib/message-pointer.lua).

  Input:
    KEYS[1] {p}messages:{a}:{b}
    KEYS[2] {p}convgen:{a}:{b}
    KEYS[3] {p}expiry:due

    ARGV[1] generation read before the MongoDB read; '' = convgen did not exist
    ARGV[2] TTL in seconds, or at:<ms>, an absolute deadline (lib/clock.lua's deadlineOf)
    ARGV[3] message key prefix ({p}message:)
    ARGV[4..] message JSON, oldest first (at least one)

  Output:
    1 - filled
    0 - skipped: the conversation changed meanwhile
]]
--!include lib/clock.lua
--!include lib/message-pointer.lua
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[1] or #ARGV < 4 then
  return 0
end

local deadline = deadlineOf(ARGV[2])

unpointAll(KEYS[1], ARGV[3])
redis.call('DEL', KEYS[1])
-- In chunks: unpack() of thousands of values could overflow the Lua stack.
local i = 4
while i <= #ARGV do
  local last = math.min(i + 199, #ARGV)
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, last))
  i = last + 1
end
redis.call('PEXPIREAT', KEYS[1], deadline)
redis.call('ZADD', KEYS[3], deadline, KEYS[1])
return 1
