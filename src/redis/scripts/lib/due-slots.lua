-- The slotted part of the due index (docs/redis-data-model.md, "The due index"), shared by
-- the scripts that record, move or claim deadlines of keys set once (messages, entries of
-- the cache service, retries). A key refreshed on every write (a conversation list) keeps
-- one member of `{p}expiry:due` instead.
--
--   index                 ZSET  slot key → slot start (ms)
--   index:c:<start>       ZSET  cache key → deadline (ms): the deadlines of a 100 ms slot
--   index:f:<ms>          ZSET  the same for one millisecond, used once the 100 ms slot is
--                               full (a burst): slots stay under zset-max-listpack-entries
--                               (128), so Redis keeps them as compact listpacks (~45 bytes
--                               an entry instead of ~150 in a large sorted set)
--   index:count           STRING entries in all slots (a gauge, not used for decisions;
--                               deleted at 0)
--
-- A deadline is the key's own expire time (set with PXAT/PEXPIREAT to exactly it), so the
-- entry of a live key is found from PEXPIRETIME when a write sets its TTL anew. An entry
-- whose key was set anew after it expired (its old entry unclaimed) is stale: the key is
-- alive with a later PEXPIRETIME, and the claim drops it (the later entry stands for both,
-- as one member per key did before).
-- Slot names are built from the index's name, so they share its partition's hash tag.
--!include lib/chunked-call.lua
local SLOT_MS = 100
local SLOT_FULL = 120

local function slotNames(index, deadline)
  local start = deadline - deadline % SLOT_MS
  return index .. ':c:' .. start, start, index .. ':f:' .. deadline
end

-- The counter goes down by `n`; at 0 it is deleted (an empty index leaves no key behind).
local function slotCountDown(index, n)
  if redis.call('DECRBY', index .. ':count', n) <= 0 then
    redis.call('DEL', index .. ':count')
  end
end

-- Records `key` as due at `deadline` (whole ms).
local function slotAdd(index, key, deadline)
  local slot, start, fine = slotNames(index, deadline)
  if redis.call('ZCARD', slot) >= SLOT_FULL and not redis.call('ZSCORE', slot, key) then
    slot, start = fine, deadline
  end
  if redis.call('ZADD', slot, deadline, key) == 1 then
    redis.call('INCR', index .. ':count')
  end
  redis.call('ZADD', index, start, slot)
end

-- Removes `key`'s entry at `deadline`, from whichever slot holds it.
local function slotRemove(index, key, deadline)
  local coarse, _, fine = slotNames(index, deadline)
  local removed = 0
  for _, slot in ipairs({ coarse, fine }) do
    if redis.call('ZREM', slot, key) == 1 then
      removed = removed + 1
      if redis.call('EXISTS', slot) == 0 then
        redis.call('ZREM', index, slot)
      end
    end
  end
  if removed > 0 then
    slotCountDown(index, removed)
  end
end

-- Before a write gives `key` a new TTL (or deletes it): drops the entry of its current one.
local function slotForget(index, key)
  local at = redis.call('PEXPIRETIME', key)
  if at > 0 then
    slotRemove(index, key, at)
  end
end

-- Claims up to `room` entries due by `now`: removes them from their slots and returns
-- their keys and deadlines, in order of slot start (a 100 ms slot before the 1 ms slots it
-- spilled into; all of them are due). `seen` holds the keys this call claimed already (a
-- key is claimed once per call) and is extended.
local function slotClaim(index, now, room, seen)
  local keys, deadlines = {}, {}
  if room <= 0 then
    return keys, deadlines
  end
  local removed = 0
  local slots = redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, room + 1)
  for _, slot in ipairs(slots) do
    if #keys >= room then
      break
    end
    local entries =
      redis.call('ZRANGEBYSCORE', slot, '-inf', now, 'WITHSCORES', 'LIMIT', 0, room - #keys)
    if #entries > 0 then
      local members = {}
      for i = 1, #entries, 2 do
        members[#members + 1] = entries[i]
      end
      callChunked({ 'ZREM', slot }, members)
      removed = removed + #members
      -- Usually every key is gone (expired): one EXISTS per chunk says so.
      local _, alive = callChunked({ 'EXISTS' }, members)
      for i = 1, #entries, 2 do
        local key, deadline = entries[i], entries[i + 1]
        local stale = alive > 0 and redis.call('PEXPIRETIME', key) > tonumber(deadline)
        if not stale and not seen[key] then
          seen[key] = true
          keys[#keys + 1] = key
          deadlines[#deadlines + 1] = deadline
        end
      end
    end
    if redis.call('EXISTS', slot) == 0 then
      redis.call('ZREM', index, slot)
    end
  end
  if removed > 0 then
    slotCountDown(index, removed)
  end
  return keys, deadlines
end

-- The earliest deadline in the slots, or false: slots are walked in start order while a
-- slot could still hold an earlier deadline than the best found.
local function slotEarliest(index)
  local best = false
  local offset = 0
  while true do
    local batch = redis.call('ZRANGE', index, offset, offset + 15, 'WITHSCORES')
    if #batch == 0 then
      return best
    end
    for i = 1, #batch, 2 do
      if best and tonumber(batch[i + 1]) >= best then
        return best
      end
      local first = redis.call('ZRANGE', batch[i], 0, 0, 'WITHSCORES')
      if first[2] and (not best or tonumber(first[2]) < best) then
        best = tonumber(first[2])
      end
    end
    offset = offset + 16
  end
end

-- Entries in all slots, and entries due by `now` counted over the first `maxSlots` due slots
-- (a larger backlog is reported as at least that).
local function slotCounts(index, now, maxSlots)
  local due = 0
  for _, slot in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now, 'LIMIT', 0, maxSlots)) do
    due = due + redis.call('ZCOUNT', slot, '-inf', now)
  end
  return math.max(0, tonumber(redis.call('GET', index .. ':count') or '0')), due
end
