--[[
  Gives back expirations whose processing failed (e.g. MongoDB unreachable): for each
  entry whose lease still carries this claim's token, counts the failed attempt; below
  the limit the entry goes back to the due index (a slot, lib/due-slots.lua) at now + its
  backoff, otherwise it moves to the dead-letter hash (the shadow stays until the entry is
  retried or dropped). A backoff of -1 sends it to the dead-letter hash at once
  (unprocessable, e.g. a corrupt shadow).

  Input:
    KEYS[1] {p}expiry:inflight
    KEYS[2] {p}expiry:slots
    KEYS[3] {p}expiry:attempts
    KEYS[4] {p}expiry:dead

    ARGV[1]     token (lease deadline returned by the claim)
    ARGV[2]     max attempts
    ARGV[3]     error message (recorded in the dead letter)
    ARGV[4...]  pairs: cache key, backoff in ms (-1 = dead at once)

  Output:
    { outcome per pair }: 0 lease lost (another daemon owns it), 1 retry scheduled, 2 dead
]]
--!include lib/clock.lua
--!include lib/due-slots.lua
local now = nowMs()
local token = tonumber(ARGV[1])
local maxAttempts = tonumber(ARGV[2])
local out = {}
for i = 4, #ARGV, 2 do
  local key, backoff = ARGV[i], tonumber(ARGV[i + 1])
  local lease = redis.call('ZSCORE', KEYS[1], key)
  if lease and tonumber(lease) == token then
    local attempts = redis.call('HINCRBY', KEYS[3], key, 1)
    redis.call('ZREM', KEYS[1], key)
    if backoff < 0 or attempts >= maxAttempts then
      redis.call('HSET', KEYS[4], key,
        cjson.encode({ error = ARGV[3], attempts = attempts, at = now }))
      -- The count lives in the dead letter now; a retry starts afresh.
      redis.call('HDEL', KEYS[3], key)
      out[#out + 1] = 2
    else
      slotAdd(KEYS[2], key, now + math.floor(backoff))
      out[#out + 1] = 1
    end
  else
    out[#out + 1] = 0
  end
end
return out
