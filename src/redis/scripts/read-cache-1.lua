--[[
  Reads a cache entry, following a message entry's pointer into its conversation list
  (lib/message-pointer.lua): the JSON of `{p}message:{id}` is then the list element with
  that id.

  Input:
    KEYS[1] cache key

  Output:
    the value; nil when absent, or when a pointer leads nowhere (the list was evicted)
]]
--!include lib/message-pointer.lua
local value = redis.call('GET', KEYS[1])
if not value or string.sub(value, 1, 1) ~= POINTER then
  return value
end
local id = string.match(KEYS[1], 'message:([^:]*)$')
if not id then
  return false
end
local needle = '"id":"' .. id .. '"'
local items = redis.call('LRANGE', string.sub(value, 2), 0, -1)
for i = #items, 1, -1 do
  if string.find(items[i], needle, 1, true) and messageId(items[i]) == id then
    return items[i]
  end
end
return false
