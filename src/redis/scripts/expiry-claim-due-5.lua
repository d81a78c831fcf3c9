--[[
  Claims the expirations that are due, for the expiry daemon's poll
  (docs/redis-data-model.md, "Claim"): up to ARGV[2] entries of the due index whose
  deadline is <= now (Redis clock): its per-key part first, then its slots
  (lib/due-slots.lua); then, in the room left, entries of the in-flight set
  whose lease expired (their daemon died or hung). Each claimed entry gets a lease of
  ARGV[1] ms in the in-flight set; the lease deadline is the token ack/nack must present.
  The cache key of a due entry is unlinked: it is past its deadline, and Redis may not
  have reclaimed it yet (expiry is lazy plus a sampling cycle).

  Atomic, so exactly one daemon gets each entry, whether it learnt of it from this poll or
  from a keyevent hint (expiry-claim-keys-5.lua).

  Input:
    KEYS[1] {p}expiry:due
    KEYS[2] {p}expiry:inflight
    KEYS[3] {p}expiry:shadow
    KEYS[4] {p}expiry:attempts
    KEYS[5] {p}expiry:slots

    ARGV[1] lease in ms
    ARGV[2] batch size (entries at most)

  Output:
    { now, token, false, key, deadline, shadow | false, attempts, reclaimed (0|1), ... }
      now       Redis time in ms
      token     now + lease: the score of every entry claimed by this call
      false     (the place of expiry-claim-keys-5.lua's notYetDue, so both parse alike)
      then five values per claimed entry, flat (a nested array per entry costs more to
      build here and to parse in the daemon):
      deadline  the due score; for a reclaimed lease, the expired lease deadline
]]
--!include lib/clock.lua
--!include lib/chunked-call.lua
--!include lib/expiry-claim.lua
--!include lib/due-slots.lua
local now = nowMs()
local token = now + tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = { now, token, false }
local records = { inflight = KEYS[2], shadow = KEYS[3], attempts = KEYS[4] }

-- Members and scores of a WITHSCORES reply, as two lists.
local function split(reply)
  local members, scores = {}, {}
  for i = 1, #reply, 2 do
    members[#members + 1] = reply[i]
    scores[#scores + 1] = reply[i + 1]
  end
  return members, scores
end

local due, deadlines =
  split(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit))
local seen = {}
if #due > 0 then
  callChunked({ 'ZREM', KEYS[1] }, due)
  claimEntries(records, out, token, due, deadlines, 0, seen)
end
local slotted, slotDeadlines = slotClaim(KEYS[5], now, limit - #due, seen)
claimEntries(records, out, token, slotted, slotDeadlines, 0)

local room = limit - #due - #slotted
if room > 0 then
  local expired, leases =
    split(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, room))
  claimEntries(records, out, token, expired, leases, 1)
end

return out
