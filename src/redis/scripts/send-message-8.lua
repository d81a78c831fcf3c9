--[[
  The Redis half of a send, in one round trip (docs/redis-data-model.md, "Send"):
  caches the message with its TTL, inserts it into the conversation list if that list is
  cached (at its place in (createdAt, id) order, once: the list stays sorted and unique),
  records both deadlines in the due index, bumps the conversation's generation, and, for a
  message not (yet) in MongoDB, leaves the shadow the expiry daemon persists plus the
  pending entry reads merge with MongoDB.

  A message appended to its cached list is stored once: `message:{id}` then holds a
  pointer to the list (lib/message-pointer.lua), and messages that LTRIM pushes out of the
  list get their JSON back first.

  Input:
    KEYS[1] {p}message:{id}
    KEYS[2] {p}messages:{a}:{b}     conversation list
    KEYS[3] {p}convgen:{a}:{b}
    KEYS[4] {p}expiry:due           the conversation list's deadline
    KEYS[5] {p}expiry:shadow
    KEYS[6] {p}pending:{a}:{b}
    KEYS[7] {p}expiry:slots         the message's deadline (lib/due-slots.lua)
    KEYS[8] {p}ratelimit:send:{sender}
            rate-limit-1.lua's counter: the send is counted first unless ARGV[7] is '',
            and nothing is written when it is over the limit

    ARGV[1] message JSON
    ARGV[2] TTL in seconds, or at:<ms>, an absolute deadline (lib/clock.lua's deadlineOf)
    ARGV[3] conversation list size (messages kept)
    ARGV[4] MessageShadow JSON, or '' when the message is already in MongoDB
    ARGV[5] message id
    ARGV[6] createdAt in ms (pending score)
    ARGV[7] sends allowed per window, or '' when the caller counted the send itself
    ARGV[8] window length in ms ('' with ARGV[7])

  Output:
    { listUpdated (0|1), generation after the bump }
    { -1, ms until the window ends } when over the rate limit (nothing written)
]]
--!include lib/clock.lua
--!include lib/count-send.lua
--!include lib/due-slots.lua
--!include lib/message-pointer.lua
if ARGV[7] ~= '' then
  local allowed, _, left = countSend(KEYS[8], ARGV[7], ARGV[8])
  if not allowed then
    return { -1, left }
  end
end

local deadline = deadlineOf(ARGV[2])

-- A message cached again (a retried send) leaves the entry of its previous TTL.
slotForget(KEYS[7], KEYS[1])

-- A message's place in its conversation: (createdAt, id), as compareMessages orders them.
-- createdAt is ISO 8601 in UTC with milliseconds, so strings compare as times do.
local function sortKey(json)
  local ok, m = pcall(cjson.decode, json)
  if not ok or type(m) ~= 'table' or type(m.createdAt) ~= 'string' or type(m.id) ~= 'string' then
    return nil
  end
  return m.createdAt, m.id
end
local function precedes(aTime, aId, bTime, bId)
  return aTime < bTime or (aTime == bTime and aId < bId)
end

-- Puts the message into the cached list at its place, once: readers serve the list as it
-- is (no parsing, no sorting), so it must stay sorted and free of duplicates. The common
-- case is a message newer than the last one (RPUSH); two sends racing, or a retry caching
-- a message again, take the rare path. Returns 'tail' when appended, 'placed' when put
-- elsewhere (or already there), false when the list is unreadable.
local function insertSorted(list, json)
  local time, id = sortKey(json)
  local last = redis.call('LINDEX', list, -1)
  local lastTime, lastId = sortKey(last)
  if not time or not lastTime then return false end
  if precedes(lastTime, lastId, time, id) then
    redis.call('RPUSH', list, json)
    return 'tail'
  end
  local items = redis.call('LRANGE', list, 0, -1)
  for i = #items, 1, -1 do
    local t, itemId = sortKey(items[i])
    if not t then return false end
    if itemId == id then return 'placed' end -- already there
    if precedes(t, itemId, time, id) then
      redis.call('LINSERT', list, 'AFTER', items[i], json)
      return 'placed'
    end
  end
  redis.call('LPUSH', list, json)
  return 'placed'
end

-- Only a cached list is extended: creating one here would make a list that lacks the
-- older messages look like the whole conversation.
local listUpdated = 0
local value = ARGV[1]
if redis.call('EXISTS', KEYS[2]) == 1 then
  local msgPrefix = messageKeyPrefix(KEYS[1], ARGV[5])
  local placed = insertSorted(KEYS[2], ARGV[1])
  if placed then
    local size = tonumber(ARGV[3])
    local excess = redis.call('LLEN', KEYS[2]) - size
    if excess > 0 then
      unpoint(KEYS[2], msgPrefix, redis.call('LRANGE', KEYS[2], 0, excess - 1))
      redis.call('LTRIM', KEYS[2], -size, -1)
    end
    -- Messages sent with a longer TTL must not outlive the list they point into.
    if redis.call('PEXPIRETIME', KEYS[2]) > deadline then
      unpointAll(KEYS[2], msgPrefix)
    end
    redis.call('PEXPIREAT', KEYS[2], deadline)
    redis.call('ZADD', KEYS[4], deadline, KEYS[2])
    listUpdated = 1
    -- Appended: it stays in the list for as long as its entry lives, unless pushed out
    -- (LTRIM, above, gives it its JSON back then).
    if placed == 'tail' then
      value = POINTER .. KEYS[2]
    end
  else
    -- Not written by this version (or damaged): drop it; the next read fills it again.
    unpointAll(KEYS[2], msgPrefix)
    redis.call('UNLINK', KEYS[2])
    redis.call('ZREM', KEYS[4], KEYS[2])
  end
end

redis.call('SET', KEYS[1], value, 'PXAT', deadline)
slotAdd(KEYS[7], KEYS[1], deadline)

local generation = redis.call('INCR', KEYS[3])
-- A generation only has to outlive a read-then-fill window; a day, renewed by every write,
-- keeps one small key per active conversation instead of one per conversation forever
-- (it has no TTL otherwise, so volatile-lru could never evict it).
redis.call('EXPIRE', KEYS[3], 86400)

if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[5], KEYS[1], ARGV[4])
  redis.call('ZADD', KEYS[6], tonumber(ARGV[6]), ARGV[5])
end

return { listUpdated, generation }
