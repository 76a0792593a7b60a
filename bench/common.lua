-- common.lua — shared by the bench/*.lua wrk scripts (loaded with dofile; BENCH_DIR names this
-- directory). Gives each wrk thread a number (`tid`), percent-encoding, the Java client's
-- User-Agent, and a done() that prints one machine-readable line for bench/run.sh:
--   BENCH requests=N duration_us=N rps=F p50_us=N p99_us=N max_us=N errors=N status_errors=N

UA = "Nacos-Java-Client:v1.4.6"

function env_int(name, default)
   local v = tonumber(os.getenv(name) or "")
   return v or default
end

function urlencode(s)
   return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- BENCH_DELAY_MS paces each connection: it waits that long before sending its next request, so a
-- latency scenario measures service time under a fixed moderate load rather than queueing at
-- saturation (wrk's latency excludes the delay).
local pace = env_int("BENCH_DELAY_MS", 0)
if pace > 0 then
   function delay() return pace end
end

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local e = summary.errors
   local errors = e.connect + e.read + e.write + e.status + e.timeout
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d max_us=%d errors=%d status_errors=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99), latency.max, errors, e.status))
end
