-- The claim shared by expiry-claim-due-5 and expiry-claim-keys-5: leases `keys` (due at
-- `deadlines`) with score `token` in `records.inflight`, unlinks their cache keys unless
-- `reclaimed` is 1, and appends five values per key to `out`: key, deadline, shadow (from
-- `records.shadow`) | false, failed attempts (from `records.attempts`), reclaimed. A
-- reclaimed lease is not unlinked again: its first claim did that, and the key may have
-- been cached anew since (with a new deadline in the due index). `seen`, when given, gets
-- every key, so that the slot part of the same claim skips them.
-- Cache keys are named by the due index, not by KEYS: they carry its partition's hash tag.
--!include lib/chunked-call.lua
local function claimEntries(records, out, token, keys, deadlines, reclaimed, seen)
  if #keys == 0 then
    return
  end
  if seen then
    for _, key in ipairs(keys) do
      seen[key] = true
    end
  end
  local leases = {}
  for i = 1, #keys do
    leases[2 * i - 1] = token
    leases[2 * i] = keys[i]
  end
  callChunked({ 'ZADD', records.inflight }, leases)
  if reclaimed == 0 then
    callChunked({ 'UNLINK' }, keys)
  end
  local shadows = callChunked({ 'HMGET', records.shadow }, keys)
  local attempts = callChunked({ 'HMGET', records.attempts }, keys)
  for i = 1, #keys do
    local n = #out
    out[n + 1] = keys[i]
    out[n + 2] = deadlines[i]
    out[n + 3] = shadows[i]
    out[n + 4] = tonumber(attempts[i] or '0')
    out[n + 5] = reclaimed
  end
end
