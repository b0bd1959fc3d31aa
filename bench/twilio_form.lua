-- wrk script: POST a Twilio-style inbound SMS webhook form (application/x-www-form-urlencoded).
-- MessageSid is unique per request: "SM" + 32 hex digits built from the thread number and a
-- per-thread counter, so each request is a new message as Twilio would send it. From cycles
-- through 1000 fictitious 555 numbers so the rows spread over contacts.

local next_thread = 0

function setup(thread)
   thread:set("thread_number", next_thread)
   next_thread = next_thread + 1
end

local counter = 0
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function request()
   counter = counter + 1
   local sid = string.format("SM%08x%024x", thread_number or 0, counter)
   local from = string.format("%%2B1555%07d", counter % 1000)
   local body = "MessageSid=" .. sid
      .. "&AccountSid=AC00000000000000000000000000000000"
      .. "&From=" .. from
      .. "&To=%2B15550001000"
      .. "&Body=Yes%2C+still+interested.+What+would+you+offer%3F"
      .. "&NumMedia=0"
   return wrk.format("POST", nil, headers, body)
end

-- One machine-readable line for bench/load.py; latency figures are in microseconds.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_WRK {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
         .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout))
end
