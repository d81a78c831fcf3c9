--[[
  Claims for the expiry daemon's keyevent hints: an `expired` event says only which key
  went away. A key of the per-key due index is claimed only if it is still there with a
  deadline <= now (Redis clock): a key already claimed (by the poll or another daemon) is
  no longer there; a key whose TTL was refreshed has a later score. A key that is not
  there has its deadline in a slot (lib/due-slots.lua), which a name does not lead to: for
  those, the due slot entries are claimed, earliest first, up to ARGV[2] (the hinted keys
  are among them unless claimed already). Otherwise the same claim as
  expiry-claim-due-5.lua.

  Input:
    KEYS[1] {p}expiry:due
    KEYS[2] {p}expiry:inflight
    KEYS[3] {p}expiry:shadow
    KEYS[4] {p}expiry:attempts
    KEYS[5] {p}expiry:slots

    ARGV[1]     lease in ms
    ARGV[2]     slot entries to claim at most
    ARGV[3...]  cache keys (full names; a repeated name counts once)

  Output:
    { now, token, notYetDue | false, key, deadline, shadow | false, attempts, 0, ... }
      five values per claimed entry, flat, as expiry-claim-due-5.lua returns them
      notYetDue  the earliest deadline among the named keys that are in the per-key index
                 but not due yet (Redis expired them a moment early, or the TTL was
                 refreshed), or, when named keys were not found there and fewer slot
                 entries were due, the slots' earliest deadline; the daemon polls then
]]
--!include lib/clock.lua
--!include lib/chunked-call.lua
--!include lib/expiry-claim.lua
--!include lib/due-slots.lua
local now = nowMs()
local token = now + tonumber(ARGV[1])
local out = { now, token, false }
local records = { inflight = KEYS[2], shadow = KEYS[3], attempts = KEYS[4] }

local named, once = {}, {}
for i = 3, #ARGV do
  if not once[ARGV[i]] then
    once[ARGV[i]] = true
    named[#named + 1] = ARGV[i]
  end
end
if #named == 0 then
  return out
end

local scores = callChunked({ 'ZMSCORE', KEYS[1] }, named)
local due, deadlines, seen = {}, {}, {}
local unindexed = 0
for i = 1, #named do
  local score = scores[i]
  if not score then
    unindexed = unindexed + 1
  else
    local deadline = tonumber(score)
    if deadline <= now then
      due[#due + 1] = named[i]
      deadlines[#deadlines + 1] = score
    elseif out[3] == false or deadline < out[3] then
      out[3] = deadline
    end
  end
end
if #due > 0 then
  callChunked({ 'ZREM', KEYS[1] }, due)
  claimEntries(records, out, token, due, deadlines, 0, seen)
end

if unindexed > 0 then
  local room = tonumber(ARGV[2])
  local slotted, slotDeadlines = slotClaim(KEYS[5], now, room, seen)
  claimEntries(records, out, token, slotted, slotDeadlines, 0)
  if #slotted < math.min(room, unindexed) then
    local next = slotEarliest(KEYS[5])
    if next and next > now and (out[3] == false or next < out[3]) then
      out[3] = next
    end
  end
end

return out
