--[[
  Sets one cache entry with its TTL and records its deadline in the daemon's due index, in
  one step (docs/redis-data-model.md: the deadline is written by the script that sets the
  TTL; the entry of a TTL set before is dropped).

  With a guard, only if the guard key (a conversation's convgen) still holds the value read
  before the data was loaded from MongoDB: a read racing with an edit or delete then cannot
  put the old version back into the cache.

  Input:
    KEYS[1] cache key (e.g. {p}message:{id}); not a conversation list (those are written
            by send-message-8 and fill-conversation-3 only)
    KEYS[2] {p}expiry:slots
    KEYS[3] guard key, e.g. {p}convgen:{a}:{b}; unread without a guard (KEYS[1] again)

    ARGV[1] value (JSON)
    ARGV[2] TTL in seconds, or at:<ms>, an absolute deadline (lib/clock.lua's deadlineOf)
    ARGV[3] '1' with a guard, '0' without
    ARGV[4] with a guard: its expected value; '' = the guard key must not exist

  Output:
    1 - cached
    0 - not cached: the guard changed
]]
--!include lib/clock.lua
--!include lib/due-slots.lua
if ARGV[3] == '1' then
  local current = redis.call('GET', KEYS[3]) or ''
  if current ~= ARGV[4] then
    return 0
  end
end

local deadline = deadlineOf(ARGV[2])

slotForget(KEYS[2], KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', deadline)
slotAdd(KEYS[2], KEYS[1], deadline)
return 1
