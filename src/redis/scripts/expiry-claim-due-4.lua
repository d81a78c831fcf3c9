--[[
  Claims the expirations that are due, for the expiry daemon's poll
  (docs/redis-data-model.md, "Claim"): up to ARGV[2] entries of the due index whose
  deadline is <= now (Redis clock), then, in the room left, entries of the in-flight set
  whose lease expired (their daemon died or hung). Each claimed entry gets a lease of
  ARGV[1] ms in the in-flight set; the lease deadline is the token ack/nack must present.
  The cache key of a due entry is unlinked: it is past its deadline, and Redis may not
  have reclaimed it yet (expiry is lazy plus a sampling cycle).

  Atomic, so exactly one daemon gets each entry, whether it learnt of it from this poll or
  from a keyevent hint (expiry-claim-keys-4.lua).

  Input:
    KEYS[1] {p}expiry:due
    KEYS[2] {p}expiry:inflight
    KEYS[3] {p}expiry:shadow
    KEYS[4] {p}expiry:attempts

    ARGV[1] lease in ms
    ARGV[2] batch size (entries at most)

  Output:
    { now, token, false, { key, deadline, shadow | false, attempts, reclaimed (0|1) }... }
      now       Redis time in ms
      token     now + lease: the score of every entry claimed by this call
      false     (the place of expiry-claim-keys-4.lua's notYetDue, so both parse alike)
      deadline  the due score; for a reclaimed lease, the expired lease deadline
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token = now + tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = { now, token, false }

local function claim(key, deadline, reclaimed)
  redis.call('ZADD', KEYS[2], token, key)
  if reclaimed == 0 then
    -- Cache keys are named by the due index, not by KEYS: these scripts assume one node.
    -- A reclaimed lease is not unlinked again: its first claim did that, and the key may
    -- have been cached anew since (with a new deadline in the due index).
    redis.call('UNLINK', key)
  end
  local shadow = redis.call('HGET', KEYS[3], key)
  local attempts = tonumber(redis.call('HGET', KEYS[4], key) or '0')
  out[#out + 1] = { key, deadline, shadow, attempts, reclaimed }
end

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #due, 2 do
  redis.call('ZREM', KEYS[1], due[i])
  claim(due[i], due[i + 1], 0)
end

local room = limit - #due / 2
if room > 0 then
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, room)
  for i = 1, #expired, 2 do
    claim(expired[i], expired[i + 1], 1)
  end
end

return out
