-- Redis's clock in whole ms (TIME): the one clock API processes and daemons on different
-- hosts share (docs/redis-data-model.md). Included by the scripts that compute deadlines.
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The deadline (ms) a TTL argument gives: `<seconds>` from now, or `at:<ms>`, an absolute
-- time on the same clock (seeders of tests and benchmarks make many keys fall due together).
local function deadlineOf(ttl)
  local at = string.match(ttl, '^at:(%d+)$')
  if at then
    return tonumber(at)
  end
  return nowMs() + tonumber(ttl) * 1000
end
