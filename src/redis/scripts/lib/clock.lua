-- Redis's clock in whole ms (TIME): the one clock API processes and daemons on different
-- hosts share (docs/redis-data-model.md). Included by the scripts that compute deadlines.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
