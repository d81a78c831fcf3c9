--[[
  After an edit or delete was written to MongoDB: drops every cached copy of the message
  (its entry and its conversation's list) and their due entries, bumps the conversation's
  generation so that an in-flight fill cannot bring the old version back, and drops the
  shadow and pending entry (MongoDB now holds the message, so the daemon has nothing to
  persist; its late insert-if-absent would be a no-op anyway). The other messages whose
  entries point into the list get their JSON back first (lib/message-pointer.lua).

  Input:
    KEYS[1] {p}message:{id}
    KEYS[2] {p}messages:{a}:{b}
    KEYS[3] {p}convgen:{a}:{b}
    KEYS[4] {p}expiry:due
    KEYS[5] {p}expiry:shadow
    KEYS[6] {p}pending:{a}:{b}
    KEYS[7] {p}expiry:slots

    ARGV[1] message id

  Output:
    the conversation generation after the bump
]]
--!include lib/due-slots.lua
--!include lib/message-pointer.lua
slotForget(KEYS[7], KEYS[1])
redis.call('UNLINK', KEYS[1])
unpointAll(KEYS[2], messageKeyPrefix(KEYS[1], ARGV[1]))
redis.call('UNLINK', KEYS[2])
redis.call('ZREM', KEYS[4], KEYS[2])
local generation = redis.call('INCR', KEYS[3])
-- A generation only has to outlive a read-then-fill window; a day, renewed by every write,
-- keeps one small key per active conversation instead of one per conversation forever
-- (it has no TTL otherwise, so volatile-lru could never evict it).
redis.call('EXPIRE', KEYS[3], 86400)
redis.call('HDEL', KEYS[5], KEYS[1])
redis.call('ZREM', KEYS[6], ARGV[1])
return generation
