-- beat.lua — PUT /nacos/v1/ns/instance/beat as the Java 1.x client sends it: ip, port, cluster and
-- serviceName in the query, the `beat` JSON in a form body. Requests cycle over BENCH_BEAT_INSTANCES
-- known instances (default 1000) spread over BENCH_BEAT_SERVICES services (default 10); instance k is
-- DEFAULT_GROUP@@bench-beat-(k % services), 10.1.(k / 256).(k % 256):8080 — bench/run.sh registers the
-- same set (beat_snapshot). All requests are built once in init(); request() only picks the next.
dofile((os.getenv("BENCH_DIR") or ".") .. "/common.lua")

local reqs, n, i = {}, 0, 0

function init(args)
   local count = env_int("BENCH_BEAT_INSTANCES", 1000)
   local services = env_int("BENCH_BEAT_SERVICES", 10)
   for k = 0, count - 1 do
      local svc = "DEFAULT_GROUP@@bench-beat-" .. (k % services)
      local ip = string.format("10.1.%d.%d", math.floor(k / 256), k % 256)
      local beat = string.format('{"cluster":"DEFAULT","ip":"%s","metadata":{},"period":5000,"port":8080,'
         .. '"scheduled":false,"serviceName":"%s","stopped":false,"weight":1.0}', ip, svc)
      local path = string.format("/nacos/v1/ns/instance/beat?namespaceId=public&serviceName=%s"
         .. "&clusterName=DEFAULT&ip=%s&port=8080", urlencode(svc), ip)
      reqs[k + 1] = wrk.format("PUT", path, {
         ["Content-Type"] = "application/x-www-form-urlencoded",
         ["User-Agent"] = UA,
      }, "beat=" .. urlencode(beat))
   end
   n = #reqs
   i = (tid or 0) * 397   -- threads start at different instances
end

function request()
   i = i + 1
   return reqs[(i % n) + 1]
end
