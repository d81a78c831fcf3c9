--[[
  Acknowledges processed expirations: for each entry whose lease still carries this
  claim's token, removes it from the in-flight set and drops what processing needed (the
  shadow, the failed-attempt count, the conversation's pending entry). An entry whose
  lease expired and was taken over by another daemon is left to that daemon: only a
  matching ack counts as processed, so every expiration is counted once. One command per
  step for the whole batch (the leases are read with ZMSCORE).

  Input:
    KEYS[1] {p}expiry:inflight
    KEYS[2] {p}expiry:shadow
    KEYS[3] {p}expiry:attempts

    ARGV[1]     token (lease deadline returned by the claim)
    ARGV[2...]  triples: cache key, pending key ('' when none), message id ('' when none)

  Output:
    { matched (0|1) per triple } (a key repeated in the same call matches once at most)
]]
--!include lib/chunked-call.lua
local token = tonumber(ARGV[1])
local out = {}
local keys = {}
for i = 2, #ARGV, 3 do
  keys[#keys + 1] = ARGV[i]
end
if #keys == 0 then
  return out
end

local leases = callChunked({ 'ZMSCORE', KEYS[1] }, keys)
local acked, seen = {}, {}
-- pending key -> message ids to remove from it
local pendingIds = {}
for j = 1, #keys do
  local key, lease = keys[j], leases[j]
  if lease and tonumber(lease) == token and not seen[key] then
    seen[key] = true
    acked[#acked + 1] = key
    local pending, id = ARGV[3 * j], ARGV[3 * j + 1]
    if pending ~= '' then
      pendingIds[pending] = pendingIds[pending] or {}
      table.insert(pendingIds[pending], id)
    end
    out[j] = 1
  else
    out[j] = 0
  end
end
if #acked > 0 then
  callChunked({ 'ZREM', KEYS[1] }, acked)
  callChunked({ 'HDEL', KEYS[2] }, acked)
  callChunked({ 'HDEL', KEYS[3] }, acked)
end
for pending, ids in pairs(pendingIds) do
  callChunked({ 'ZREM', pending }, ids)
end
return out
