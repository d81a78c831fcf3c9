--[[
  What the expiry daemon needs after a round, in one round trip: when to wake next (the
  earliest deadline and the earliest lease) and the gauges (backlog, dead letters).

  Input:
    KEYS[1] {p}expiry:due
    KEYS[2] {p}expiry:inflight
    KEYS[3] {p}expiry:dead

  Output:
    { now, earliest deadline | false, earliest lease | false, entries in the due index,
      entries already due, dead letters }
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local firstDue = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local firstLease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {
  now,
  firstDue[2] or false,
  firstLease[2] or false,
  redis.call('ZCARD', KEYS[1]),
  redis.call('ZCOUNT', KEYS[1], '-inf', now),
  redis.call('HLEN', KEYS[3]),
}
