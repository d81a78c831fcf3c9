--[[
  Gives back one event counted by rate-limit-1 (a login that succeeded does not use up the
  username's budget of failed ones). A counter whose window has ended is left alone, so a
  refund never leaves a counter without TTL or below zero.

  Input:
    KEYS[1] the counter, as given to rate-limit-1

  Output:
    the count left in this window (0 when the window has ended)
]]
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
