--[[
  Claims named cache keys, for the expiry daemon's keyevent hints: an `expired` event says
  only which key went away, so each key is claimed only if the due index still holds it
  with a deadline <= now (Redis clock). A key already claimed (by the poll or another
  daemon) is no longer in the due index; a key whose TTL was refreshed has a later score.
  Otherwise the same claim as expiry-claim-due-4.lua.

  Input:
    KEYS[1] {p}expiry:due
    KEYS[2] {p}expiry:inflight
    KEYS[3] {p}expiry:shadow
    KEYS[4] {p}expiry:attempts

    ARGV[1]     lease in ms
    ARGV[2...]  cache keys (full names)

  Output:
    { now, token, notYetDue | false, { key, deadline, shadow | false, attempts, 0 }... }
      notYetDue  the earliest deadline among the named keys that are in the due index but
                 not due yet (Redis expired them a moment early, or the TTL was refreshed);
                 the daemon polls then
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token = now + tonumber(ARGV[1])
local out = { now, token, false }

for i = 2, #ARGV do
  local key = ARGV[i]
  local deadline = redis.call('ZSCORE', KEYS[1], key)
  if deadline and tonumber(deadline) <= now then
    redis.call('ZREM', KEYS[1], key)
    redis.call('ZADD', KEYS[2], token, key)
    redis.call('UNLINK', key)
    local shadow = redis.call('HGET', KEYS[3], key)
    local attempts = tonumber(redis.call('HGET', KEYS[4], key) or '0')
    out[#out + 1] = { key, deadline, shadow, attempts, 0 }
  elseif deadline then
    local d = tonumber(deadline)
    if out[3] == false or d < out[3] then
      out[3] = d
    end
  end
end

return out
