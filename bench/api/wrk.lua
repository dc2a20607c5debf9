-- The turku-api benchmark's wrk script (bench/api/README.md, "Load generator").
--
-- With TURKU_WRK_BODIES naming a file of JSON bodies (one a line), every request is a POST of one
-- of them, picked at random, to TURKU_WRK_PATH: the bodies are formatted into whole requests once,
-- in init, so the Lua run per request is one random pick. Without it, wrk sends its own fixed
-- request (the URL given, GET) and no Lua runs per request at all: wrk checks at load time whether
-- a `request` function exists, so the choice is made here, from the environment, not in init.
--
-- done() prints one line, TURKU_WRK_SUMMARY {json}, with the counters and latency percentiles (in
-- microseconds, from the same histogram as wrk's --latency table) for bench/api/wrk-output.ts.

local bodies_file = os.getenv("TURKU_WRK_BODIES")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

if bodies_file ~= nil and bodies_file ~= "" then
  local path = os.getenv("TURKU_WRK_PATH") or "/"
  local seed = tonumber(os.getenv("TURKU_WRK_SEED") or "1")
  local requests = {}
  local count = 0

  function init(args)
    math.randomseed(seed * 1000 + (thread_number or 0))
    local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
    for line in io.lines(bodies_file) do
      if line ~= "" then
        count = count + 1
        requests[count] = wrk.format("POST", path, headers, line)
      end
    end
    if count == 0 then error("no request bodies in " .. bodies_file) end
  end

  function request()
    return requests[math.random(count)]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'TURKU_WRK_SUMMARY {"requests":%d,"durationUs":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latencyUs":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
