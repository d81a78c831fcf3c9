-- Fixed-window counter shared by every API process (a user's sends, REST and ws; login and
-- sign-up attempts): counts one event on `key` and returns whether it is within `limit` per
-- `windowMs`, the count, and the ms until the window ends. Included by rate-limit-1 and
-- send-message-8.
local function countSend(key, limit, windowMs)
  local count = redis.call('INCR', key)
  local left = redis.call('PTTL', key)
  if count == 1 or left < 0 then
    -- A new window (or a counter that lost its TTL): it ends one window from now.
    redis.call('PEXPIRE', key, windowMs)
    left = tonumber(windowMs)
  end
  return count <= tonumber(limit), count, left
end
