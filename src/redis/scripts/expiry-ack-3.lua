--[[
  Acknowledges processed expirations: for each entry whose lease still carries this
  claim's token, removes it from the in-flight set and drops what processing needed (the
  shadow, the failed-attempt count, the conversation's pending entry). An entry whose
  lease expired and was taken over by another daemon is left to that daemon: only a
  matching ack counts as processed, so every expiration is counted once.

  Input:
    KEYS[1] {p}expiry:inflight
    KEYS[2] {p}expiry:shadow
    KEYS[3] {p}expiry:attempts

    ARGV[1]     token (lease deadline returned by the claim)
    ARGV[2...]  triples: cache key, pending key ('' when none), message id ('' when none)

  Output:
    { matched (0|1) per triple }
]]
local token = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 3 do
  local key, pending, id = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local lease = redis.call('ZSCORE', KEYS[1], key)
  if lease and tonumber(lease) == token then
    redis.call('ZREM', KEYS[1], key)
    redis.call('HDEL', KEYS[2], key)
    redis.call('HDEL', KEYS[3], key)
    if pending ~= '' then
      redis.call('ZREM', pending, id)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
