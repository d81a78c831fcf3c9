-- `{p}message:{id}` as a pointer (docs/redis-data-model.md, "One copy of a message"): while
-- a message is in its conversation's cached list, its own entry holds '@' .. the list's key
-- instead of a second copy of its JSON, and read-cache-1.lua finds the JSON in the list.
-- Before an element leaves its list (LTRIM, the list dropped or filled anew, or given a
-- TTL shorter than its messages'), the entries pointing at it get their JSON back, with
-- their TTL. Included by the scripts that write conversation lists.
local POINTER = '@'

-- `{p}message:` from a message entry's key and the message's id.
local function messageKeyPrefix(messageKey, id)
  return string.sub(messageKey, 1, #messageKey - #id)
end

-- The id of a message JSON (ours start with it; others are decoded), or nil.
local function messageId(json)
  local id = string.match(json, '^{"id":"([^"\\]*)"')
  if id then
    return id
  end
  local ok, m = pcall(cjson.decode, json)
  if ok and type(m) == 'table' and type(m.id) == 'string' then
    return m.id
  end
  return nil
end

-- Gives their JSON back to the message entries that point at `list` for the elements
-- `items` of it. `msgPrefix` .. id is a message entry's key.
local function unpoint(list, msgPrefix, items)
  local pointer = POINTER .. list
  for _, json in ipairs(items) do
    local id = messageId(json)
    if id then
      local key = msgPrefix .. id
      if redis.call('GET', key) == pointer then
        redis.call('SET', key, json, 'KEEPTTL')
      end
    end
  end
end

-- unpoint() for every element of `list`, e.g. before it is dropped.
local function unpointAll(list, msgPrefix)
  unpoint(list, msgPrefix, redis.call('LRANGE', list, 0, -1))
end
