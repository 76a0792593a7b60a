#!/usr/bin/env bash
# failover-rehearsal.sh — a three-node Nacos cluster in one small process, and its nodes taken away one
# at a time: what a client given the whole server list meets, and what a correct one does about it.
#
# 1. --nodes 3: three nodes, each with its own HTTP port (and gRPC port + 1000), one registry behind
#    them all: what registers on one is listed by the others, as in a cluster whose nodes synchronise.
#    /nacos/serverlist, operator/servers and core/cluster/nodes list the whole cluster.
# 2. Node 1 OFFLINE (PUT /__mock/nodes/1): its ports refuse connections — a crashed server. The other
#    nodes answer; a client must move to one of them. UP again: the same ports, the same registry.
# 3. Node 2 DOWN: it still accepts connections but answers 503 (gRPC: errorCode 300) — a server that is
#    starting or not ready. DOWN for a while ("forMs"): it comes back by itself.
# 4. A fault on one node only (match.node), and the journal telling which node answered what.
#
# Run: examples/failover-rehearsal.sh        Binary: $NACOS_MOCK_BIN, else build/nacos-mock.
source "$(dirname "$0")/lib.sh"

start_mock --nodes 3

call GET /__mock/nodes
expect_status 200
expect_jq '.nodes | length == 3' 'three nodes'
mapfile -t NODE < <(jq -r '.nodes[].url' <<<"$BODY")
note "node 0: ${NODE[0]}   node 1: ${NODE[1]}   node 2: ${NODE[2]}"
on_node() { NACOS="${NODE[$1]}"; note "${D}(now asking node $1: \$NACOS=$NACOS)${N}"; }
# wait_until URL JQ: polls GET URL quietly (up to 10 s) until the JSON answer satisfies JQ
wait_until() {
  local deadline=$((SECONDS + 10))
  until curl -s --max-time 2 "$1" 2>/dev/null | jq -e "$2" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || fail "waited 10 s for $1 to satisfy $2"
  done
}
# refused PORT_URL: the URL's port must refuse connections (curl exit code 7)
refused() {
  local rc=0
  curl -sS -o /dev/null --max-time 5 "$1/nacos/v1/ns/operator/metrics" 2>/dev/null || rc=$?
  [ "$rc" = 7 ] || fail "expected $1 to refuse connections (curl exit 7), got curl exit $rc"
  printf '   %s✓ %s refuses connections%s\n' "$G" "$1" "$N"
}

step "1. One registry behind three nodes"
on_node 0
call POST /nacos/v1/ns/instance -d serviceName=payments -d ip=127.0.0.1 -d port=19301
expect_body ok
for i in 1 2; do
  on_node "$i"
  call GET /nacos/v1/ns/instance/list -G -d serviceName=payments
  expect_jq '[.hosts[].port] == [19301]' "node $i lists the instance registered on node 0"
done
call GET /nacos/serverlist
[ "$(grep -c . <<<"$BODY")" = 3 ] || fail "the address-server list should have three lines"
printf '   %s✓ the address-server list: one ip:port line per node%s\n' "$G" "$N"
call GET /nacos/v1/ns/operator/servers
expect_jq '[.servers[].state] == ["UP", "UP", "UP"]' 'operator/servers: three members, UP'

step "2. Node 1 goes OFFLINE: connection refused, as a crashed server"
on_node 0
call_json PUT /__mock/nodes/1 '{"status": "OFFLINE"}'
expect_status 200
note "The answer comes first; the listeners close right after it. Wait until they have:"
wait_until "$NACOS/__mock/nodes/1" '.listening == false'
call GET /__mock/nodes/1
expect_jq '.listening == false and .status == "OFFLINE"' 'node 1 closed'
refused "${NODE[1]}"
note "A client given the three addresses moves on: nodes 0 and 2 answer, with the same registry."
on_node 2
call GET /nacos/v1/ns/instance/list -G -d serviceName=payments
expect_jq '[.hosts[].port] == [19301]' 'node 2 still lists it'
call GET /nacos/v1/ns/operator/servers
expect_jq '[.servers[].state] == ["UP", "DOWN", "UP"]' 'the cluster lists node 1 DOWN'
call_json PUT /__mock/nodes/1 '{"status": "UP"}'
expect_jq '.listening == true and .status == "UP"' 'node 1 UP again, on the same port'
on_node 1
call GET /nacos/v1/ns/instance/list -G -d serviceName=payments
expect_jq '[.hosts[].port] == [19301]' 'node 1 serves again'

step "3. Node 2 goes DOWN: 503 there, and only there"
on_node 0
call_json PUT /__mock/nodes/2 '{"status": "DOWN", "forMs": 1500}'
expect_jq '.status == "DOWN" and .upInMs > 0' 'DOWN for 1.5 s'
on_node 2
call GET /nacos/v1/ns/instance/list -G -d serviceName=payments
expect_status 503
call GET /nacos/v1/ns/operator/metrics
expect_jq '.status == "DOWN"' 'what SDKs ask a server about its health: DOWN'
on_node 0
call GET /nacos/v1/ns/instance/list -G -d serviceName=payments
expect_status 200
note "forMs: it comes back by itself. Waiting for node 2 to answer 200 again:"
on_node 2
wait_until "$NACOS/nacos/v1/ns/operator/metrics" '.status == "UP"'
call GET /nacos/v1/ns/operator/metrics
expect_jq '.status == "UP"' 'node 2 UP again'

step "4. A fault on node 0 only (match.node), and the journal by node"
call_json POST /__mock/faults '{"id": "node0-list", "match": {"api": "list", "node": 0}, "action": {"status": 500}}'
expect_status 201
on_node 0
call GET /nacos/v1/ns/instance/list -G -d serviceName=payments
expect_status 500
on_node 1
call GET /nacos/v1/ns/instance/list -G -d serviceName=payments
expect_status 200
call GET /__mock/requests -G -d api=list -d node=0
expect_jq '[.requests[] | .status] | index(500) != null' 'the journal: node 0 answered a list with 500'
expect_jq '[.requests[] | .node] | unique == [0]' 'entries carry their node'

done_ok
