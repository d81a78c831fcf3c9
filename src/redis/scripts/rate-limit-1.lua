--[[
  Fixed-window counter shared by every API process: a user's sends (REST and ws), or the
  login and sign-up attempts of a username or a client address.

  Input:
    KEYS[1] {p}ratelimit:send:{userId}, {p}ratelimit:auth:user:{username} or
            {p}ratelimit:auth:addr:{address}

    ARGV[1] events allowed per window
    ARGV[2] window length in ms

  Output:
    { allowed (1|0), count in this window, ms until the window ends }
]]
--!include lib/count-send.lua
local allowed, count, left = countSend(KEYS[1], ARGV[1], ARGV[2])
return { allowed and 1 or 0, count, left }
