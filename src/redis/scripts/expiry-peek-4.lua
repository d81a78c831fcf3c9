--[[
  What the expiry daemon needs after a round, in one round trip: when to wake next (the
  earliest deadline and the earliest lease) and the gauges (backlog, dead letters).

  Input:
    KEYS[1] {p}expiry:due
    KEYS[2] {p}expiry:inflight
    KEYS[3] {p}expiry:dead
    KEYS[4] {p}expiry:slots

  Output:
    { now, earliest deadline | false, earliest lease | false, entries in the due index,
      entries already due, dead letters }
      (entries already due are counted over the per-key index and the 100 earliest due
      slots: a larger backlog is reported as at least that)
]]
--!include lib/clock.lua
--!include lib/due-slots.lua
local now = nowMs()
local firstDue = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliest = tonumber(firstDue[2]) or false
local slotted = slotEarliest(KEYS[4])
if slotted and (not earliest or slotted < earliest) then
  earliest = slotted
end
local firstLease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local indexed, due = slotCounts(KEYS[4], now, 100)
return {
  now,
  earliest,
  firstLease[2] or false,
  redis.call('ZCARD', KEYS[1]) + indexed,
  redis.call('ZCOUNT', KEYS[1], '-inf', now) + due,
  redis.call('HLEN', KEYS[3]),
}
