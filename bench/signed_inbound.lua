-- wrk script: POST Twilio inbound SMS webhooks that bench/webhook.py signed beforehand.
-- Argument (after "--"): a file of lines "SIGNATURE BODY": the X-Twilio-Signature for the
-- configured public URL and the url-encoded form, each with its own MessageSid. Signing in Lua
-- would need HMAC-SHA1; reading them is cheap. Past the end of the file the requests repeat
-- (replays the server answers without storing): the bench's row count then refuses the run.

dofile("bench/wrk_summary.lua")

local signatures, bodies, count = {}, {}, 0
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
local index = 0

function init(args)
   for line in io.lines(args[1]) do
      local space = line:find(" ", 1, true)
      count = count + 1
      signatures[count] = line:sub(1, space - 1)
      bodies[count] = line:sub(space + 1)
   end
end

function request()
   local i = index % count + 1
   index = index + 1
   headers["X-Twilio-Signature"] = signatures[i]
   return wrk.format("POST", nil, headers, bodies[i])
end
