-- wrk script for bench/agent_load.sh: POSTs one OIP infer request (the JSON body in the file
-- named by EML_LOAD_BODY: a real Fashion-MNIST test image) on every request, and at the end
-- prints one machine-readable line with the throughput, latency percentiles and every failure.
local f = assert(io.open(os.getenv("EML_LOAD_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- Responses other than 200 (wrk's own "status" errors count only codes above 399).
non_200 = 0  -- global: done() reads it from each thread with thread:get
function response(status, headers, body)
   if status ~= 200 then
      non_200 = non_200 + 1
      if non_200 <= 3 then
         io.stderr:write("agent_load: HTTP " .. status .. ": " .. string.sub(body, 1, 200) .. "\n")
      end
   end
end

-- response() runs in each thread's own Lua state: collect the counters through the threads.
local threads = {}
function setup(thread)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local bad = 0
   for _, t in ipairs(threads) do
      bad = bad + t:get("non_200")
   end
   local e = summary.errors
   io.write(string.format(
      "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
      "non_200=%d connect=%d read=%d write=%d timeout=%d status=%d\n",
      summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
      bad, e.connect, e.read, e.write, e.timeout, e.status))
end
