-- list.lua — GET /nacos/v1/ns/instance/list of DEFAULT_GROUP@@bench-list-0, which bench/run.sh fills
-- with BENCH_LIST_INSTANCES instances (default 100), as the Java 1.x client asks for it (without a
-- UDP port, so no push subscription is made). A static request: wrk builds it once.
dofile((os.getenv("BENCH_DIR") or ".") .. "/common.lua")

wrk.method = "GET"
wrk.path = "/nacos/v1/ns/instance/list?namespaceId=public&serviceName="
   .. urlencode("DEFAULT_GROUP@@bench-list-0") .. "&clusters=&healthyOnly=false"
wrk.headers["User-Agent"] = UA
