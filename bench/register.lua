-- register.lua — POST /nacos/v1/ns/instance (register) as the Java 1.x client sends it (parameters
-- in the query), a new ip:port every request: thread t uses 10.(100+t).x.y with ports from 1024 up,
-- so no two requests of a run register the same instance. All into DEFAULT_GROUP@@bench-register.
dofile((os.getenv("BENCH_DIR") or ".") .. "/common.lua")

local c, prefix, suffix, headers = 0, nil, nil, nil

function init(args)
   prefix = "/nacos/v1/ns/instance?namespaceId=public&serviceName=" .. urlencode("DEFAULT_GROUP@@bench-register")
      .. "&groupName=DEFAULT_GROUP&clusterName=DEFAULT&weight=1.0&enabled=true&healthy=true&ephemeral=true"
      .. "&metadata=" .. urlencode('{"version":"1.0","preserved.register.source":"SPRING_CLOUD"}')
      .. "&ip=10." .. (100 + (tid or 0)) .. "."
   headers = { ["User-Agent"] = UA }
end

function request()
   c = c + 1
   local path = prefix .. (math.floor(c / 256) % 256) .. "." .. (c % 256) .. "&port=" .. (1024 + math.floor(c / 65536))
   return wrk.format("POST", path, headers)
end
