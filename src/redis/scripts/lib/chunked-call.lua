-- Runs a variadic command over many arguments: `head` (the command and its fixed arguments)
-- followed by at most 1000 of `args` per call, since unpack() is bounded by Lua's C stack
-- and a batch may hold 10,000 entries (EXPIRY_BATCH_SIZE). One call per chunk instead of
-- one per entry is what keeps the expiry scripts cheap for Redis. Returns the replies of
-- a command that answers an array per argument (HMGET, ZMSCORE), concatenated in order,
-- and the sum of the replies of a command that answers a count (EXISTS, ZREM).
-- Included by the expiry scripts and lib/due-slots.lua.
local CHUNK = 1000
local function callChunked(head, args)
  local replies, total = {}, 0
  for i = 1, #args, CHUNK do
    local argv = { unpack(head) }
    for j = i, math.min(i + CHUNK - 1, #args) do
      argv[#argv + 1] = args[j]
    end
    local reply = redis.call(unpack(argv))
    if type(reply) == 'table' then
      for _, v in ipairs(reply) do
        replies[#replies + 1] = v
      end
    elseif type(reply) == 'number' then
      total = total + reply
    end
  end
  return replies, total
end
