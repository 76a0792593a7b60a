#!/usr/bin/env bash
# virtual-clock.sh — watch an instance that stops beating turn UNHEALTHY and then disappear, in milliseconds.
#
# Nacos marks an ephemeral instance unhealthy after 15 s without a heartbeat and deletes it after 30 s
# (3 and 6 missed beats of the 5 s clientBeatInterval). A test that waits for that is slow and flaky.
# nacos-mock reads all health decisions from a virtual clock: POST /__mock/clock/advance {"ms": N}
# moves it forward, runs one health sweep and answers with the transitions it caused.
#
# Here two instances register; "alive" keeps beating, "silent" does not. Then time jumps.
#
# Run: examples/virtual-clock.sh        Binary: $NACOS_MOCK_BIN, else build/nacos-mock.
source "$(dirname "$0")/lib.sh"

start_mock   # defaults: --beat-interval-ms 5000 --unhealthy-misses 3 --delete-misses 6

alive=(-d serviceName=payments -d ip=127.0.0.1 -d port=19001)
silent=(-d serviceName=payments -d ip=127.0.0.1 -d port=19002)

beat_alive() {
  note "alive beats:"
  call PUT /nacos/v1/ns/instance/beat "${alive[@]}"
  expect_jq '.code == 10200' 'beat accepted (10200)'
}
# health_of PORT: "true"/"false" from the last instance/list answer, "absent" when not listed
health_of() {
  jq -r --argjson p "$1" '[.hosts[] | select(.port == $p) | .healthy] | if length == 0 then "absent" else .[0] end' <<<"$BODY"
}

step "1. Two instances of 'payments' register"
call POST /nacos/v1/ns/instance "${alive[@]}"
expect_body ok
call POST /nacos/v1/ns/instance "${silent[@]}"
expect_body ok
call GET /__mock/clock
expect_jq '.offsetMs == 0' 'the virtual clock starts at real time (offsetMs 0)'

step "2. +10 s: two beats missed so far, still inside the 15 s timeout"
beat_alive
call_json POST /__mock/clock/advance '{"ms": 10000}'
expect_status 200
expect_jq '.changes == []' 'no health change yet'

step "3. +6 s (16 s without a beat from 'silent'): it turns UNHEALTHY"
beat_alive
call_json POST /__mock/clock/advance '{"ms": 6000}'
expect_jq '[.changes[] | {instanceId, from, to}] == [{"instanceId": "127.0.0.1#19002#DEFAULT#DEFAULT_GROUP@@payments", "from": "HEALTHY", "to": "UNHEALTHY"}]' \
  "only 'silent' changed: HEALTHY -> UNHEALTHY"
call GET /nacos/v1/ns/instance/list -G -d serviceName=payments
show_hosts
[ "$(health_of 19001)" = true ] || fail "alive should be healthy"
[ "$(health_of 19002)" = false ] || fail "silent should be listed as unhealthy"
note "${G}✓ consumers still see 'silent', but with healthy=false (healthyOnly=true would hide it)${N}"

step "4. +8 s, then +7 s (31 s without a beat): 'silent' is removed; 'alive' beats in between"
note "Jumps stay shorter than the 15 s timeout so that the beats of 'alive' keep it healthy."
beat_alive
call_json POST /__mock/clock/advance '{"ms": 8000}'
expect_jq '.changes == []' "24 s: 'silent' is unhealthy, not yet past the 30 s delete timeout"
beat_alive
call_json POST /__mock/clock/advance '{"ms": 7000}'
expect_jq '[.changes[] | {instanceId, from, to}] == [{"instanceId": "127.0.0.1#19002#DEFAULT#DEFAULT_GROUP@@payments", "from": "UNHEALTHY", "to": "REMOVED"}]' \
  "'silent' changed: UNHEALTHY -> REMOVED"
call GET /nacos/v1/ns/instance/list -G -d serviceName=payments
show_hosts
[ "$(health_of 19002)" = absent ] || fail "silent should be gone"
[ "$(health_of 19001)" = true ] || fail "alive should still be healthy"
note "${G}✓ only 'alive' is left, and it is healthy${N}"

step "5. A late beat from 'silent' (without the beat JSON) is told that it is unknown"
note "code 20404: the client must re-register (the Java client then sends a full beat or registers again)."
call PUT /nacos/v1/ns/instance/beat "${silent[@]}"
expect_jq '.code == 20404' 'code 20404 (instance not found)'

step "6. The clock can be inspected; POST /__mock/reset sets it back (and empties the registry)"
call GET /__mock/clock
expect_jq '.offsetMs == 31000' 'offsetMs is the 31 000 ms added so far'
call POST /__mock/reset
expect_status 200
call GET /__mock/clock
expect_jq '.offsetMs == 0' 'after reset offsetMs is 0 again'

done_ok
