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
    ARGV[2...]  cache keys (full names; a repeated name counts once)

  Output:
    { now, token, notYetDue | false, key, deadline, shadow | false, attempts, 0, ... }
      five values per claimed entry, flat, as expiry-claim-due-4.lua returns them
      notYetDue  the earliest deadline among the named keys that are in the due index but
                 not due yet (Redis expired them a moment early, or the TTL was refreshed);
                 the daemon polls then
]]
--!include lib/chunked-call.lua
--!include lib/expiry-claim.lua
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token = now + tonumber(ARGV[1])
local out = { now, token, false }

local named, seen = {}, {}
for i = 2, #ARGV do
  if not seen[ARGV[i]] then
    seen[ARGV[i]] = true
    named[#named + 1] = ARGV[i]
  end
end
if #named == 0 then
  return out
end

local scores = callChunked({ 'ZMSCORE', KEYS[1] }, named)
local due, deadlines = {}, {}
for i = 1, #named do
  local score = scores[i]
  if score then
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
  claimEntries(out, token, due, deadlines, 0)
end

return out
