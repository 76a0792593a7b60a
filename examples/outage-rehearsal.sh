#!/usr/bin/env bash
# outage-rehearsal.sh — rehearse a registry outage and a registry restart without touching a real Nacos.
#
# 1. PUT /__mock/status {"status":"DOWN"}: every naming call answers 503, exactly as a Nacos server that
#    is not ready; clients must keep their cached instances and retry.
# 2. Back UP: nothing was lost.
# 3. POST /__mock/forget: the registry forgets every ephemeral instance, as a real server does when it
#    restarts. The next light heartbeat (no 'beat' JSON) is answered code 20404 "unknown instance"; a
#    heartbeat that carries the 'beat' JSON registers the instance again. This is the recovery path every
#    Nacos client implements, and the one most often broken.
#
# Run: examples/outage-rehearsal.sh        Binary: $NACOS_MOCK_BIN, else build/nacos-mock.
source "$(dirname "$0")/lib.sh"

start_mock

svc=(-d serviceName=inventory -d ip=127.0.0.1 -d port=19101)

step "1. 'inventory' registers and is discoverable"
call POST /nacos/v1/ns/instance "${svc[@]}" --data-urlencode 'metadata={"version":"3.0"}'
expect_body ok
call GET /nacos/v1/ns/instance/list -G -d serviceName=inventory
expect_jq '.hosts | length == 1' 'one instance listed'

step "2. The registry goes DOWN (PUT /__mock/status)"
call_json PUT /__mock/status '{"status": "DOWN"}'
expect_status 200
note "What a client gets now:"
call GET /nacos/v1/ns/instance/list -G -d serviceName=inventory
expect_status 503
expect_body 'server is DOWN now, please try again later!'
call PUT /nacos/v1/ns/instance/beat "${svc[@]}"
expect_status 503
call POST /nacos/v1/ns/instance -d serviceName=inventory -d ip=127.0.0.1 -d port=19102
expect_status 503
note "Health probes see it too: operator/metrics (what SDKs call getServerStatus) and the readiness probe."
call GET /nacos/v1/ns/operator/metrics
expect_status 200
expect_jq '.status == "DOWN"' 'metrics report status DOWN'
call GET /nacos/v1/console/health/readiness
expect_status 500

step "3. The registry is back UP: nothing was lost, the refused register did not happen"
call_json PUT /__mock/status '{"status": "UP"}'
expect_status 200
call GET /nacos/v1/ns/instance/list -G -d serviceName=inventory
expect_status 200
expect_jq '[.hosts[].port] == [19101]' 'still exactly 127.0.0.1:19101'
call GET /__mock/requests -G -d status=503
expect_jq '.total == 3' 'the journal counts the 3 refused calls (status=503 filter)'

step "4. The registry 'restarts' and forgets its ephemeral instances (POST /__mock/forget)"
call POST /__mock/forget
expect_status 200
expect_jq '.removed == 1' 'removed: 1'
call GET /nacos/v1/ns/instance/list -G -d serviceName=inventory
expect_jq '.hosts == []' 'the service has no instances any more'

step "5. The instance's next light heartbeat: code 20404, 'I do not know you'"
call PUT /nacos/v1/ns/instance/beat "${svc[@]}"
expect_status 200
expect_jq '.code == 20404' 'code 20404: the client must re-register'

step "6. A heartbeat that carries the 'beat' JSON registers the instance again"
beat='{"serviceName":"DEFAULT_GROUP@@inventory","ip":"127.0.0.1","port":19101,"cluster":"DEFAULT","weight":1.0,"metadata":{"version":"3.0"}}'
call PUT /nacos/v1/ns/instance/beat -d serviceName=DEFAULT_GROUP@@inventory --data-urlencode "beat=$beat"
expect_status 200
expect_jq '.code == 10200' 'code 10200: known again'
call GET /nacos/v1/ns/instance/list -G -d serviceName=inventory
expect_jq '[.hosts[] | {port, healthy, version: .metadata.version}] == [{"port": 19101, "healthy": true, "version": "3.0"}]' \
  'listed again, healthy, with the metadata from the beat'
show_hosts

done_ok
