--[[
  Fixed-window counter of a user's sends, shared by every API process (REST and ws).

  Input:
    KEYS[1] {p}ratelimit:send:{userId}

    ARGV[1] sends allowed per window
    ARGV[2] window length in ms

  Output:
    { allowed (1|0), count in this window, ms until the window ends }
]]
--!include lib/count-send.lua
local allowed, count, left = countSend(KEYS[1], ARGV[1], ARGV[2])
return { allowed and 1 or 0, count, left }
