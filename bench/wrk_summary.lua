-- Shared by the product benchmarks' wrk scripts (dofile'd): the one machine-readable line
-- bench/load.py reads, latency figures in microseconds; the same format as twilio_form.lua's.

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_WRK {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
         .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.connect, e.read, e.write, e.status, e.timeout))
end
