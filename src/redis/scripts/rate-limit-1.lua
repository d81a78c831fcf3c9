--[[
  Fixed-window counter of a user's sends, shared by every API process (REST and ws).

  Input:
    KEYS[1] {p}ratelimit:send:{userId}

    ARGV[1] sends allowed per window
    ARGV[2] window length in ms

  Output:
    { allowed (1|0), count in this window, ms until the window ends }
]]
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  -- A new window (or a counter that lost its TTL): it ends one window from now.
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if count > tonumber(ARGV[1]) then
  return { 0, count, ttl }
end
return { 1, count, ttl }
