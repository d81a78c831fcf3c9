--[[
  Claims an idempotency key for a send, or says what an earlier request with the same key
  did. The record is a hash: bodyHash, id (the message id chosen by the first request and
  kept by every retry, so MongoDB's _id makes the writes themselves idempotent), state
  (pending|done), at (claim time, ms) and, once done, message (JSON) and persisted.

  Input:
    KEYS[1] {p}idem:{userId}:{key}

    ARGV[1] message id for a new claim
    ARGV[2] hash of the request body
    ARGV[3] record TTL in seconds
    ARGV[4] lease in ms: how long a pending claim blocks retries before one may take over

  Output:
    { 'claimed', id }                   - new claim; go ahead with id
    { 'conflict' }                      - same key, different body
    { 'done', id, message, persisted }  - the earlier request finished
    { 'busy', id }                      - the earlier request is (probably) still running
    { 'takeover', id }                  - the earlier request stopped without finishing;
                                          finish it, with the same id
]]
--!include lib/clock.lua
local now = nowMs()

if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'bodyHash', ARGV[2], 'id', ARGV[1], 'state', 'pending', 'at', now)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
  return { 'claimed', ARGV[1] }
end

local r = redis.call('HMGET', KEYS[1], 'bodyHash', 'id', 'state', 'at', 'message', 'persisted')
if r[1] ~= ARGV[2] then
  return { 'conflict' }
end
if r[3] == 'done' then
  return { 'done', r[2], r[5], r[6] }
end
if now - (tonumber(r[4]) or 0) < tonumber(ARGV[4]) then
  return { 'busy', r[2] }
end
redis.call('HSET', KEYS[1], 'at', now)
return { 'takeover', r[2] }
