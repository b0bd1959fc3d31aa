-- wrk script: POST /api/leads, a new seller in every request.
-- Arguments (after "--"): the API key, then the first seller number. Seller n has its own phone,
-- typed as people do, "(647) 7NN-NNNN" (valid Toronto numbers, so phonenumbers accepts them),
-- its own email and its own Idempotency-Key, so each request is a new contact, lead, deal and
-- ladder. The warm-up and the measured window start at different numbers: no seller repeats.

dofile("bench/wrk_summary.lua")

local headers = { ["Content-Type"] = "application/json" }
local first = 0
local counter = -1

function init(args)
   headers["Authorization"] = "Bearer " .. args[1]
   first = tonumber(args[2])
end

function request()
   counter = counter + 1
   local n = first + counter
   headers["Idempotency-Key"] = string.format("bench-lead-%d", n)
   local body = string.format(
      '{"name":"Bench Lead %d","phone":"(647) 7%02d-%04d","email":"lead%d@example.com",'
         .. '"address":"%d Elm St, Toronto, ON M4C 1A1","property_type":"single family","bedrooms":3,'
         .. '"asking_price":650000,"arv":820000,"repair_estimate":60000,"source":"bench","consent":true}',
      n, math.floor(n / 10000) % 100, n % 10000, n, n % 9999 + 1)
   return wrk.format("POST", nil, headers, body)
end
