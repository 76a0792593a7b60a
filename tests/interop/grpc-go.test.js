'use strict';
/*
 * Interop: a scripted client that speaks Nacos 2.x gRPC exactly as nacos-sdk-go v2.3.5 does
 * (grpc-client.js, flavour 'go': ServerCheck first (asked again while the answer is 3xx), then the
 * bi-stream and ConnectionSetupRequest with `clientAbilities` and `tenant:""`; requests with
 * `requestId:""`, every Instance field sent with Go's zero values, Subscribe with the {app} header;
 * 3 attempts per request, 100 ms apart; the redo at once on the connected event; a
 * ConnectResetRequest without serverIp only health-checks and redoes on the same connection; a
 * service whose cache is older than cacheMillis is queried again every second).
 * Each test starts its own mock with nothing but --port 0; the client is given "127.0.0.1:PORT" and
 * dials PORT + 1000 itself. The tests run concurrently (~12 s: converging after a dropped push
 * waits for cacheMillis, 10 s).
 * Run through tests/interop/run.sh (it sets NACOS_MOCK_BIN).
 */
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { withEnv, waitUntil, v1Hosts, connections, journal, metric } = require('./lib');
const { NacosGrpcClient, RawConnection, KEEP_ALIVE_MS } = require('./grpc-client');

// Go re-registers as soon as it is connected again: its only wait is the 100 ms after
// ConnectionSetupRequest. SLACK_MS: handshakes and set-up calls on a loaded 2-core machine.
const SLACK_MS = 2000;
const GO_REDO_BOUND_MS = 100 + SLACK_MS;
const CACHE_MILLIS = 10000;   // the serviceInfo.cacheMillis nacos-mock answers (as Nacos does)

const addr = h => `${h.ip}:${h.port}`;
const addrs = hosts => hosts.map(addr).sort();
// what a Go application passes as RegisterInstanceParam when it sets everything (vo.RegisterInstanceParam)
const full = (ip, port, more = {}) => ({ ip, port, weight: 1, enabled: true, healthy: true, ephemeral: true, ...more });

async function goClient(env, mock, opts = {}) {
  const c = new NacosGrpcClient('go', { serverAddr: `127.0.0.1:${mock.port}`, ...opts });
  env.track(c, () => c.close(), () => [`--- go client ${c.connectionId} log (tail) ---`, ...c.log.slice(-30)]);
  await c.start();
  assert.ok(c.connectionId, 'the go client connected');
  return c;
}

async function registryInstance(mock, service, ip, port) {
  const r = await mock.control('GET', '/__mock/registry');
  for (const ns of r.json.namespaces) {
    for (const s of ns.services) {
      const i = s.name === service && s.instances.find(x => x.ip === ip && x.port === port);
      if (i) return i;
    }
  }
  return null;
}

describe('scripted Go v2.3.5 gRPC client against nacos-mock', { concurrency: true }, () => {
  test('register, subscribe (push + ack), query, service list, batch, deregister; Go zero values', { timeout: 20000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const go = await goClient(env, mock, { appName: 'go-app' });
      const sub = await goClient(env, mock, { appName: 'go-sub' });

      const conns = await connections(mock);
      const mine = conns.find(c => c.id === go.connectionId);
      assert.equal(mine.clientVersion, 'Nacos-Go-Client:v2.3.5');
      assert.deepEqual(mine.labels, { source: 'sdk', module: 'naming' });
      const [setup] = await journal(mock, { transport: 'grpc', api: 'setup', limit: 1 });
      assert.deepEqual(Object.keys(setup.params).sort(), ['clientAbilities', 'clientVersion', 'labels', 'module', 'requestId', 'tenant']);

      const seen = [];
      await sub.subscribe('orders', 'G', [], hosts => seen.push(addrs(hosts)));
      const [subReq] = await journal(mock, { transport: 'grpc', api: 'subscribe' });
      assert.deepEqual([subReq.params.clusters, subReq.params.namespace, subReq.params.requestId], ['', '', '']);

      await go.registerInstance('orders', 'G', full('10.1.0.1', 8080, { clusterName: 'C1', metadata: { k: 'v' } }));
      const [h] = await v1Hosts(mock, { serviceName: 'orders', groupName: 'G' });
      assert.deepEqual([addr(h), h.clusterName, h.metadata, h.weight, h.healthy, h.instanceId],
        ['10.1.0.1:8080', 'C1', { k: 'v' }, 1, true, '10.1.0.1#8080#C1#G@@orders']);
      const [reg] = await journal(mock, { transport: 'grpc', api: 'register' });
      assert.equal(reg.params.instance.instanceId, '', 'Go sends an empty instanceId, not null');
      assert.equal(reg.params.instance.serviceName, '');
      assert.equal(reg.params.namespace, '', 'Go sends the namespace it was given: "" is public');

      await waitUntil(() => seen.some(s => s.includes('10.1.0.1:8080')), 3000, 'the push of 10.1.0.1:8080');
      await waitUntil(async () => (await metric(mock, 'nacos_mock_grpc_pushes_total{result="acked"}')) >= 1, 3000,
        'the ack of the push counted');

      // Go's zero values: a RegisterInstanceParam with only ip and port sends enabled:false, healthy:false,
      // weight 0. nacos-mock keeps enabled as sent (hidden from every list, as Nacos hides it) and makes
      // the instance healthy (grpc-api.md §3)
      await go.registerInstance('zero', 'G', { ip: '10.1.0.9', port: 9 });
      const zero = await registryInstance(mock, 'zero', '10.1.0.9', 9);
      assert.deepEqual([zero.enabled, zero.healthy, zero.weight, zero.clusterName], [false, true, 0, 'DEFAULT']);
      assert.deepEqual(await v1Hosts(mock, { serviceName: 'zero', groupName: 'G' }), []);

      // query (the proxy's QueryInstancesOfService, which the updater uses): healthyOnly on the server
      const b = await mock.http('POST', '/nacos/v1/ns/instance',
        { serviceName: 'orders', groupName: 'G', ip: '10.1.0.2', port: 8081, healthy: 'false' });
      assert.equal(b.status, 200, b.body);
      assert.deepEqual(addrs((await go.queryInstances('orders', 'G', [], true)).hosts), ['10.1.0.1:8080']);
      assert.deepEqual(addrs((await go.queryInstances('orders', 'G', [], false)).hosts), ['10.1.0.1:8080', '10.1.0.2:8081']);
      await waitUntil(() => seen.some(s => s.includes('10.1.0.2:8081')), 3000, 'the push of the v1 registration');

      // service list: Go asks for namespace "public" when none is configured
      await go.batchRegisterInstance('batch', 'G', [full('10.1.1.1', 1), full('10.1.1.2', 2)]);
      const list = await go.getServiceList(1, 10, 'G');
      assert.deepEqual([list.count, [...list.names].sort()], [3, ['batch', 'orders', 'zero']]);
      const [sl] = await journal(mock, { transport: 'grpc', api: 'service.list' });
      assert.deepEqual([sl.params.namespace, sl.params.serviceName, sl.params.selector], ['public', '', '']);

      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'batch', groupName: 'G' })), ['10.1.1.1:1', '10.1.1.2:2']);
      await go.batchRegisterInstance('batch', 'G', [full('10.1.1.1', 1)]);
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'batch', groupName: 'G' })), ['10.1.1.1:1']);

      // deregister: Go sends ip, port, cluster and zero values; the subscriber is pushed
      await go.deregisterInstance('orders', 'G', { ip: '10.1.0.1', port: 8080, clusterName: 'C1' });
      const dereg = (await journal(mock, { transport: 'grpc', api: 'deregister' })).pop();
      assert.deepEqual([dereg.params.instance.weight, dereg.params.instance.metadata, dereg.params.instance.enabled], [0, null, false]);
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'orders', groupName: 'G' })), ['10.1.0.2:8081']);
      await waitUntil(() => JSON.stringify(seen[seen.length - 1]) === '["10.1.0.2:8081"]', 3000, 'the push of the deregistration');
    }));

  test('empty pushes: Go keeps its cache unless UpdateCacheWhenEmpty', { timeout: 20000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const go = await goClient(env, mock);
      const keep = await goClient(env, mock);
      const update = await goClient(env, mock, { updateCacheWhenEmpty: true });
      const seenKeep = [];
      const seenUpdate = [];
      await go.registerInstance('empty', 'G', full('10.1.2.1', 1));
      await keep.subscribe('empty', 'G', [], hosts => seenKeep.push(addrs(hosts)));
      await update.subscribe('empty', 'G', [], hosts => seenUpdate.push(addrs(hosts)));
      const pushesBefore = keep.stats.pushes;
      await go.deregisterInstance('empty', 'G', { ip: '10.1.2.1', port: 1 });
      await waitUntil(() => seenUpdate.some(s => s.length === 0), 3000, 'the empty push applied with UpdateCacheWhenEmpty');
      await waitUntil(() => keep.stats.pushes > pushesBefore, 3000, 'the empty push received by the default client');
      assert.deepEqual(seenKeep, [['10.1.2.1:1']], 'the default Go client ignored the empty push');
    }));

  test('errors: 301 before set-up reconnects and redoes; 400 naming the field after 3 attempts', { timeout: 20000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const raw = env.track(new RawConnection(mock), r => r.close());
      const early = await raw.call('ServiceQueryRequest', { requestId: '', module: 'naming', serviceName: 's' });
      assert.deepEqual([early.type, early.body.errorCode, early.body.requestId], ['ErrorResponse', 301, '']);

      const rule = await mock.control('POST', '/__mock/faults',
        { match: { api: 'setup', transport: 'grpc' }, action: { status: 500 }, times: 1 });
      assert.equal(rule.status, 201, rule.body);
      const go = await goClient(env, mock);
      const first = go.connectionId;
      // 301: Go switches server and sends again (3 attempts, 100 ms apart); if the new connection is not
      // up in time the call fails, and the redo on the connected event registers it anyway
      await go.registerInstance('e', 'G', full('10.1.3.1', 1)).catch(err => go.note(`register failed: ${err.message}`));
      await waitUntil(async () => {
        const i = await registryInstance(mock, 'e', '10.1.3.1', 1);
        return i && i.connectionId !== first;
      }, 3000, 'registered over a new connection');
      const regs = await journal(mock, { transport: 'grpc', api: 'register', serviceName: 'e' });
      assert.deepEqual([regs[0].connectionId, regs[0].status], [first, 500]);

      await assert.rejects(go.registerInstance('e', 'G', full('10.1.3.2', 70000)), err => err.code === 400 && /port/.test(err.errMsg));
      const bad = await journal(mock, { transport: 'grpc', api: 'register', serviceName: 'e', status: 500 });
      assert.equal(bad.filter(r => r.params.instance.port === 70000).length, 3, 'Go sent the bad request 3 times');
      // used-up attempts leave Go UNHEALTHY until its health check (switchServerAsync onRequestFail) passes
      await waitUntil(() => go.isRunning(), 3000, 'the go client running again');
      const unknown = await go.request('FooRequest', { requestId: '', module: 'internal' }).catch(e => e);
      assert.equal(unknown.code, 302);
    }));

  test('ConnectResetRequest: without serverIp Go stays and redoes; with serverIp it reconnects and redoes', { timeout: 20000 }, t =>
    withEnv(async env => {
      const mock = await env.mock();
      const go = await goClient(env, mock);
      await go.registerInstance('reset', 'G', full('10.1.4.1', 1));
      await go.subscribe('reset', 'G', [], () => {});
      const resets = [];
      go.on('serverRequest', r => { if (r.type === 'ConnectResetRequest') resets.push(r.body); });
      const id0 = go.connectionId;

      // no serverIp: ConnectResetRequestHandler calls switchServerAsync(ServerInfo{}, onRequestFail=true):
      // the health check passes, so Go keeps the connection and redoes (subscribe, register) on it
      const since = (await journal(mock, { limit: 1 })).map(e => e.seq)[0] || 0;
      assert.equal((await mock.control('POST', `/__mock/connections/${id0}/reset`, {})).status, 202);
      await waitUntil(async () => (await journal(mock, { transport: 'grpc', api: 'register', since: String(since) }))
        .some(e => e.connectionId === id0 && e.status === 200), 3000, 'the redo on the same connection');
      assert.equal(go.connectionId, id0, 'Go kept its connection');
      assert.equal(resets.length, 1);

      // with serverIp and serverPort: Go switches to that server (the port of its list entry for that ip)
      const t0 = Date.now();
      assert.equal((await mock.control('POST', `/__mock/connections/${id0}/reset`,
        { serverIp: '127.0.0.1', serverPort: mock.port })).status, 202);
      await waitUntil(async () => {
        const i = await registryInstance(mock, 'reset', '10.1.4.1', 1);
        return i && i.connectionId !== id0;
      }, GO_REDO_BOUND_MS + 2000, 'registered again on a new connection');
      const ms = Date.now() - t0;
      t.diagnostic(`go: registered again ${ms} ms after ConnectResetRequest with serverIp (bound ${GO_REDO_BOUND_MS} ms)`);
      assert.ok(ms <= GO_REDO_BOUND_MS, `redo took ${ms} ms`);
      const mine = (await connections(mock)).find(c => c.id === go.connectionId);
      assert.deepEqual([mine.instances, mine.subscriptions], [1, 1]);
      assert.equal((await connections(mock)).some(c => c.id === id0), false, 'the old connection was closed by Go');
    }));

  test('connection closed by the server: Go reconnects and redoes at once; DELETE /__mock/connections for all', { timeout: 20000 }, t =>
    withEnv(async env => {
      const mock = await env.mock();
      const g1 = await goClient(env, mock);
      const g2 = await goClient(env, mock);
      const watcher = await goClient(env, mock);
      await g1.registerInstance('gone', 'G', full('10.1.5.1', 1));
      await g2.batchRegisterInstance('gone', 'G', [full('10.1.5.2', 2), full('10.1.5.3', 3)]);
      const seen = [];
      await watcher.subscribe('gone', 'G', [], hosts => seen.push(addrs(hosts)));

      const old = g1.connectionId;
      const t0 = Date.now();
      assert.equal((await mock.control('DELETE', `/__mock/connections/${old}`)).status, 204);
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'gone', groupName: 'G' })), ['10.1.5.2:2', '10.1.5.3:3']);
      await waitUntil(async () => {
        const i = await registryInstance(mock, 'gone', '10.1.5.1', 1);
        return i && i.connectionId !== old;
      }, GO_REDO_BOUND_MS + 2000, 'registered again');
      const one = Date.now() - t0;
      t.diagnostic(`go: registered again ${one} ms after its connection was closed (bound ${GO_REDO_BOUND_MS} ms)`);
      assert.ok(one <= GO_REDO_BOUND_MS, `redo took ${one} ms`);
      await waitUntil(() => seen.some(s => s.length === 2) && JSON.stringify(seen[seen.length - 1]).includes('10.1.5.1'), 3000,
        'the watcher pushed the removal, then the return');

      const t1 = Date.now();
      assert.equal((await mock.control('DELETE', '/__mock/connections')).status, 204);
      await waitUntil(async () => (await v1Hosts(mock, { serviceName: 'gone', groupName: 'G' })).length === 3,
        GO_REDO_BOUND_MS + 2000, 'all registered again');
      const all = Date.now() - t1;
      t.diagnostic(`go: three clients reconnected, two registered again ${all} ms after DELETE /__mock/connections`);
      assert.ok(all <= GO_REDO_BOUND_MS, `redo took ${all} ms`);
      // the watcher re-subscribed on its new connection
      await waitUntil(async () => {
        const c = (await connections(mock)).find(x => x.id === watcher.connectionId);
        return c && c.subscriptions === 1;
      }, 3000, 'the watcher subscribed again');
    }));

  test('gRPC faults: 500 and grpcStatus 14 retried, drop close reconnects, health check error reconnects', { timeout: 20000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const go = await goClient(env, mock);
      const add = async rule => {
        const r = await mock.control('POST', '/__mock/faults', rule);
        assert.equal(r.status, 201, r.body);
        return r.json.id;
      };
      const id500 = await add({ match: { api: 'register', transport: 'grpc', serviceName: 'f500' }, action: { status: 500 }, times: 1 });
      await go.registerInstance('f500', 'G', full('10.1.6.1', 1));
      const r500 = await journal(mock, { transport: 'grpc', serviceName: 'f500' });
      assert.deepEqual(r500.map(r => [r.status, r.fault || null]), [[500, id500], [200, null]]);

      await add({ match: { api: 'register', transport: 'grpc', serviceName: 'f14' }, action: { grpcStatus: 14 }, times: 1 });
      await go.registerInstance('f14', 'G', full('10.1.6.2', 2));
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'f14', groupName: 'G' })), ['10.1.6.2:2']);

      const before = go.connectionId;
      await add({ match: { api: 'register', transport: 'grpc', serviceName: 'fclose' }, action: { drop: 'close' }, times: 1 });
      await go.registerInstance('fclose', 'G', full('10.1.6.3', 3)).catch(() => {});
      await waitUntil(async () => (await v1Hosts(mock, { serviceName: 'fclose', groupName: 'G' })).length === 1 &&
        (await v1Hosts(mock, { serviceName: 'f500', groupName: 'G' })).length === 1, GO_REDO_BOUND_MS + 2000,
      'every registration back after the connection was dropped');
      assert.notEqual(go.connectionId, before);

      const beforeHc = go.connectionId;
      await add({ match: { api: 'healthcheck', transport: 'grpc' }, action: { status: 500 }, times: 1 });
      await waitUntil(() => go.connectionId !== beforeHc, KEEP_ALIVE_MS * 2 + SLACK_MS, 'a reconnect after the failed health check');
      await waitUntil(async () => {
        const i = await registryInstance(mock, 'f500', '10.1.6.1', 1);
        return i && i.connectionId === go.connectionId;
      }, GO_REDO_BOUND_MS + 2000, 'registered again after the health check reconnect');
    }));

  test('a dropped push: Go converges by querying once its cache is older than cacheMillis', { timeout: 20000 }, t =>
    withEnv(async env => {
      const mock = await env.mock();
      const go = await goClient(env, mock);
      const seen = [];
      await go.registerInstance('quiet', 'G', full('10.1.7.1', 1));
      await go.subscribe('quiet', 'G', [], hosts => seen.push(addrs(hosts)));
      const r = await mock.control('POST', '/__mock/faults', { match: { api: 'push', transport: 'grpc' }, action: { drop: 'close' } });
      assert.equal(r.status, 201, r.body);
      const t0 = Date.now();
      await mock.http('POST', '/nacos/v1/ns/instance', { serviceName: 'quiet', groupName: 'G', ip: '10.1.7.2', port: 2 });
      await waitUntil(async () => (await metric(mock, 'nacos_mock_grpc_pushes_total{result="dropped"}')) >= 1, 3000, 'the push dropped');
      await waitUntil(() => seen.some(s => s.includes('10.1.7.2:2')), CACHE_MILLIS + 1000 + SLACK_MS, 'the change seen by querying');
      t.diagnostic(`go: converged ${Date.now() - t0} ms after a change whose push was dropped (cacheMillis ${CACHE_MILLIS})`);
      const q = await journal(mock, { transport: 'grpc', api: 'list' });
      assert.ok(q.some(e => e.connectionId === go.connectionId && e.params.healthyOnly === false), 'Go queried the service');
    }));
});
