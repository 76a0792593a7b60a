#!/usr/bin/env bash
# register-and-discover.sh — the everyday life of a service in Nacos, with nothing but curl.
#
# Two instances of a service "orders" register, a consumer lists them, one instance sends a heartbeat,
# then it deregisters and the list shrinks. These are the same v1 HTTP calls every Nacos client makes
# (Java, Go, Python, Node): watching them here is the quickest way to learn what nacos-mock answers.
#
# Run: examples/register-and-discover.sh        (VERBOSE=1 prints whole answers)
# Binary: $NACOS_MOCK_BIN, else build/nacos-mock. Exits non-zero if any answer is not the expected one.
source "$(dirname "$0")/lib.sh"

start_mock

step "1. Two instances of 'orders' register (POST /nacos/v1/ns/instance)"
note "Parameters go in a form body. serviceName, ip and port are required; group defaults to DEFAULT_GROUP,"
note "namespace to 'public', cluster to DEFAULT. A successful write answers the two letters 'ok'."
call POST /nacos/v1/ns/instance -d serviceName=orders -d ip=127.0.0.1 -d port=18081 \
  -d weight=1 --data-urlencode 'metadata={"version":"1.4.2","zone":"a"}'
expect_status 200
expect_body ok
call POST /nacos/v1/ns/instance -d serviceName=orders -d ip=127.0.0.1 -d port=18082 \
  -d weight=2 --data-urlencode 'metadata={"version":"1.5.0","zone":"b"}'
expect_status 200
expect_body ok

step "2. A consumer discovers them (GET /nacos/v1/ns/instance/list)"
note "The answer is the service with its hosts; 'name' is the grouped name GROUP@@service."
call GET /nacos/v1/ns/instance/list -G -d serviceName=orders
expect_status 200
expect_jq '.name == "DEFAULT_GROUP@@orders"' 'the service is DEFAULT_GROUP@@orders'
expect_jq '.hosts | length == 2' 'two instances are listed'
expect_jq 'all(.hosts[]; .healthy and .enabled)' 'both are healthy and enabled'
expect_jq '[.hosts[] | select(.port == 18082) | .weight] == [2.0]' 'the second one has weight 2'
show_hosts

step "3. One instance looks at its own record (GET /nacos/v1/ns/instance)"
call GET /nacos/v1/ns/instance -G -d serviceName=orders -d ip=127.0.0.1 -d port=18081
expect_status 200
expect_jq '.instanceId == "127.0.0.1#18081#DEFAULT#DEFAULT_GROUP@@orders"' 'instanceId is ip#port#cluster#group@@service'
expect_jq '.metadata.zone == "a"' 'its metadata came back as sent'

step "4. It sends a heartbeat (PUT /nacos/v1/ns/instance/beat)"
note "An ephemeral instance must beat every clientBeatInterval ms, or it turns unhealthy after 3 missed"
note "beats and is removed after 6 (examples/virtual-clock.sh shows that without waiting)."
note "code 10200 means: known instance, beat accepted. lightBeatEnabled lets later beats omit the 'beat' JSON."
call PUT /nacos/v1/ns/instance/beat -d serviceName=orders -d ip=127.0.0.1 -d port=18081
expect_status 200
expect_jq '.code == 10200' 'code 10200 (beat accepted)'
expect_jq '.clientBeatInterval == 5000' 'the next beat is due in 5000 ms'

step "5. It shuts down and deregisters (DELETE /nacos/v1/ns/instance)"
call DELETE /nacos/v1/ns/instance -G -d serviceName=orders -d ip=127.0.0.1 -d port=18081
expect_status 200
expect_body ok

step "6. The consumer lists again: one instance is left"
call GET /nacos/v1/ns/instance/list -G -d serviceName=orders
expect_status 200
expect_jq '[.hosts[] | .port] == [18082]' 'only 127.0.0.1:18082 is listed'
show_hosts

step "7. What the mock saw (GET /__mock/requests): every call above, in order"
note "The request journal is how a test checks what its client really sent."
call GET /__mock/requests -G -d limit=20
expect_status 200
expect_jq '[.requests[].api] == ["register","register","list","detail","beat","deregister","list"]' \
  'journal: register, register, list, detail, beat, deregister, list'
jq -r '.requests[] | "     #\(.seq) \(.method) \(.path)  api=\(.api)  status=\(.status)"' <<<"$BODY"

done_ok
