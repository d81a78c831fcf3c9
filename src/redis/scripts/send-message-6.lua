--[[
  The Redis half of a send, in one round trip (docs/redis-data-model.md, "Send"):
  caches the message with its TTL, appends it to the conversation list if that list is
  cached, records both deadlines in the due index, bumps the conversation's generation,
  and, for a message not (yet) in MongoDB, leaves the shadow the expiry daemon persists
  plus the pending entry reads merge with MongoDB.

  Input:
    KEYS[1] {p}message:{id}
    KEYS[2] {p}messages:{a}:{b}     conversation list
    KEYS[3] {p}convgen:{a}:{b}
    KEYS[4] {p}expiry:due
    KEYS[5] {p}expiry:shadow
    KEYS[6] {p}pending:{a}:{b}

    ARGV[1] message JSON
    ARGV[2] TTL in seconds
    ARGV[3] conversation list size (messages kept)
    ARGV[4] MessageShadow JSON, or '' when the message is already in MongoDB
    ARGV[5] message id
    ARGV[6] createdAt in ms (pending score)

  Output:
    { listUpdated (0|1), generation after the bump }
]]
local ttl = tonumber(ARGV[2])
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + ttl * 1000

redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
redis.call('ZADD', KEYS[4], deadline, KEYS[1])

-- Only a cached list is extended: creating one here would make a list that lacks the
-- older messages look like the whole conversation.
local listUpdated = 0
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('ZADD', KEYS[4], deadline, KEYS[2])
  listUpdated = 1
end

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
