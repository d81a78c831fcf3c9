--[[
  Settles a send's idempotency record (see claim-idempotency-1.lua). Does nothing when the
  record is gone (expired or evicted) or names another message id, so it never creates a
  record without a TTL.

  Input:
    KEYS[1] {p}idem:{userId}:{key}

    ARGV[1] action:
            'done'    - the message is stored: remember it for retries
            'release' - nothing was written (refused before any write): forget the claim
            'abandon' - a write may or may not have happened (it failed): keep the id but
                        end the lease, so a retry takes over at once with the same id
    ARGV[2] message id of the claim
    ARGV[3] message JSON ('done')
    ARGV[4] '1' if the message is in MongoDB, else '0' ('done')

  Output:
    1 - settled
    0 - no such record (or not this message's)
]]
local r = redis.call('HMGET', KEYS[1], 'id', 'state')
if r[1] ~= ARGV[2] then
  return 0
end
local action = ARGV[1]
if action == 'done' then
  redis.call('HSET', KEYS[1], 'state', 'done', 'message', ARGV[3], 'persisted', ARGV[4])
elseif r[2] ~= 'done' then
  if action == 'release' then
    redis.call('DEL', KEYS[1])
  elseif action == 'abandon' then
    redis.call('HSET', KEYS[1], 'at', 0)
  end
end
return 1
