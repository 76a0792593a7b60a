'use strict';
/*
 * Interop: a scripted client that speaks Nacos 2.x gRPC exactly as the Java nacos-client 2.5.1 does
 * (grpc-client.js, flavour 'java': ServerCheck first, then the bi-stream and ConnectionSetupRequest
 * with `abilityTable` and the labels source/module/AppName/tls.enable; requests with `headers:{}` in
 * the body and {app} in the metadata, no requestId; 4 attempts per request in 3 s; a redo task every
 * 3 s; a reconnect on ConnectResetRequest, on a failed health check and when the bi-stream ends).
 * Each test starts its own mock with nothing but --port 0; the client is given "127.0.0.1:PORT" and
 * dials PORT + 1000 itself. The tests run concurrently (~10 s, the health-check rehearsal is the
 * longest: 5 s of idleness before the check).
 * Run through tests/interop/run.sh (it sets NACOS_MOCK_BIN).
 */
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { withEnv, waitUntil, v1Hosts, connections, journal, metric } = require('./lib');
const { NacosGrpcClient, RawConnection, KEEP_ALIVE_MS } = require('./grpc-client');

const REDO_DELAY_MS = 3000;   // Java DEFAULT_REDO_DELAY_TIME: the redo task's period
// what a reconnect costs besides the SDK's own waits: TCP + HTTP/2 handshakes and the set-up calls on
// loopback, on a 2-core machine shared with other builds
const SLACK_MS = 2000;
// after its connection is gone, Java reconnects at once (setup + 100 ms) and re-registers on the next
// run of its redo task
const JAVA_REDO_BOUND_MS = REDO_DELAY_MS + 100 + SLACK_MS;

const addr = h => `${h.ip}:${h.port}`;
const addrs = hosts => hosts.map(addr).sort();

async function javaClient(env, mock, opts = {}) {
  const c = new NacosGrpcClient('java', { serverAddr: `127.0.0.1:${mock.port}`, ...opts });
  env.track(c, () => c.close(), () => [`--- java client ${c.connectionId} log (tail) ---`, ...c.log.slice(-30)]);
  await c.start();
  assert.ok(c.connectionId, 'the java client connected');
  return c;
}

/** The registry's entry for ip:port of a service (null when absent), with its connectionId. */
async function registryInstance(mock, service, ip, port) {
  const r = await mock.control('GET', '/__mock/registry');
  for (const ns of r.json.namespaces) {
    for (const s of ns.services) {
      if (s.name !== service) continue;
      const i = s.instances.find(x => x.ip === ip && x.port === port);
      if (i) return i;
    }
  }
  return null;
}

/** Waits until ip:port of service is registered over a connection other than `notConn`; resolves the ms waited. */
async function waitReRegistered(mock, service, ip, port, notConn, timeoutMs) {
  const t0 = Date.now();
  await waitUntil(async () => {
    const i = await registryInstance(mock, service, ip, port);
    return i && i.connectionId && i.connectionId !== notConn;
  }, timeoutMs, `${ip}:${port} of ${service} registered again on a new connection`);
  return Date.now() - t0;
}

describe('scripted Java 2.5.1 gRPC client against nacos-mock', { concurrency: true }, () => {
  test('register, subscribe (push + ack), query, service list, batch, deregister, persistent', { timeout: 20000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const java = await javaClient(env, mock);
      const sub = await javaClient(env, mock, { appName: 'subscriber-app' });

      // the connection as the server saw its set-up
      const conns = await connections(mock);
      const mine = conns.find(c => c.id === java.connectionId);
      assert.equal(mine.clientVersion, 'Nacos-Java-Client:v2.5.1');
      assert.deepEqual(mine.labels, { source: 'sdk', module: 'naming', AppName: 'unknown', 'tls.enable': 'false' });
      assert.equal(mine.setUp, true);
      assert.equal(conns.find(c => c.id === sub.connectionId).appName, 'subscriber-app');

      const seen = [];
      await sub.subscribe('orders', 'G', [], hosts => seen.push(addrs(hosts)));
      const a = { ip: '10.0.0.1', port: 8080, weight: 2, clusterName: 'C1', metadata: { k: 'v' } };
      await java.registerInstance('orders', 'G', a);

      // one registry: the v1 list shows the gRPC registration as it was sent
      const [h] = await v1Hosts(mock, { serviceName: 'orders', groupName: 'G' });
      assert.deepEqual([h.ip, h.port, h.weight, h.clusterName, h.metadata, h.healthy, h.ephemeral, h.instanceId],
        ['10.0.0.1', 8080, 2, 'C1', { k: 'v' }, true, true, '10.0.0.1#8080#C1#G@@orders']);
      // what Java sent, as the journal recorded it (field spellings of GrpcUtils + Jackson)
      const [reg] = await journal(mock, { transport: 'grpc', api: 'register' });
      assert.equal(reg.path, 'InstanceRequest');
      assert.equal(reg.connectionId, java.connectionId);
      assert.deepEqual(reg.params.headers, {});
      assert.equal(reg.params.module, 'naming');
      assert.equal(reg.params.namespace, 'public');
      assert.equal('requestId' in reg.params, false, 'Java leaves a null requestId out');
      assert.equal('instanceId' in reg.params.instance, false, 'Java leaves a null instanceId out');
      assert.equal(reg.params.instance.instanceHeartBeatInterval, 5000);

      // the subscriber is pushed, and acknowledges with NotifySubscriberResponse
      await waitUntil(() => seen.some(s => s.includes('10.0.0.1:8080')), 3000, 'the push of 10.0.0.1:8080');
      await waitUntil(async () => (await metric(mock, 'nacos_mock_grpc_pushes_total{result="acked"}')) >= 1, 3000,
        'the ack of the push counted');
      assert.ok(sub.stats.acks >= 1);

      // query: healthyOnly is the server's filter; Java's selectInstances queries all and filters itself
      const b = await mock.http('POST', '/nacos/v1/ns/instance',
        { serviceName: 'orders', groupName: 'G', ip: '10.0.0.2', port: 8081, healthy: 'false' });
      assert.equal(b.status, 200, b.body);
      assert.deepEqual(addrs((await java.queryInstances('orders', 'G', [], true)).hosts), ['10.0.0.1:8080']);
      assert.deepEqual(addrs((await java.queryInstances('orders', 'G', [], false)).hosts), ['10.0.0.1:8080', '10.0.0.2:8081']);
      assert.deepEqual(addrs(await java.selectInstances('orders', 'G', [], true)), ['10.0.0.1:8080']);
      assert.deepEqual(addrs(await java.selectInstances('orders', 'G', [], false)), ['10.0.0.2:8081']);
      assert.deepEqual(addrs((await java.queryInstances('orders', 'G', ['C1'], false)).hosts), ['10.0.0.1:8080']);
      const q = (await journal(mock, { transport: 'grpc', api: 'list' })).pop();
      assert.deepEqual([q.params.cluster, q.params.healthyOnly, q.params.udpPort], ['C1', false, 0]);
      await waitUntil(() => seen.some(s => s.includes('10.0.0.2:8081')), 3000, 'the push of the v1 registration');

      // service list: plain names of the group
      await java.batchRegisterInstance('batch', 'G', [{ ip: '10.0.1.1', port: 1 }, { ip: '10.0.1.2', port: 2 }]);
      const list = await java.getServiceList(1, 10, 'G');
      assert.deepEqual([list.count, [...list.names].sort()], [2, ['batch', 'orders']]);

      // batch: replaces this connection's instances of the service
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'batch', groupName: 'G' })), ['10.0.1.1:1', '10.0.1.2:2']);
      await java.batchRegisterInstance('batch', 'G', [{ ip: '10.0.1.2', port: 2 }]);
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'batch', groupName: 'G' })), ['10.0.1.2:2']);

      // deregister: gone from v1 lists, the subscriber is pushed
      await java.deregisterInstance('orders', 'G', { ip: a.ip, port: a.port, clusterName: 'C1' });
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'orders', groupName: 'G' })), ['10.0.0.2:8081']);
      await waitUntil(() => JSON.stringify(seen[seen.length - 1]) === '["10.0.0.2:8081"]', 3000, 'the push of the deregistration');

      // persistent: Java 2.5.1 sends ephemeral=false over HTTP v1 unless the server announced
      // supportPersistentInstanceByGrpc (ability negotiation, which nacos-mock does not offer) ...
      await java.registerInstance('pers', 'G', { ip: '10.0.2.1', port: 1, ephemeral: false });
      const [viaHttp] = await journal(mock, { api: 'register', serviceName: 'pers', transport: 'http' });
      assert.equal(viaHttp.params.ephemeral, 'false');
      // ... and PersistentInstanceRequest when it did: nacos-mock serves both
      await java.registerPersistent('pers', 'G', { ip: '10.0.2.2', port: 2 });
      const pers = await v1Hosts(mock, { serviceName: 'pers', groupName: 'G' });
      assert.deepEqual(pers.map(x => [addr(x), x.ephemeral]).sort(), [['10.0.2.1:1', false], ['10.0.2.2:2', false]]);
      // a persistent instance does not belong to the connection: closing it keeps them, drops the rest
      const del = await mock.control('DELETE', `/__mock/connections/${java.connectionId}`);
      assert.equal(del.status, 204);
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'pers', groupName: 'G' })), ['10.0.2.1:1', '10.0.2.2:2']);
      assert.deepEqual(await v1Hosts(mock, { serviceName: 'batch', groupName: 'G' }), []);
    }));

  test('errors: 301 before set-up, 302 unknown type, 400 naming the field, 502 not JSON; what Java does', { timeout: 20000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      // protocol level, on a bare connection
      const raw = env.track(new RawConnection(mock), r => r.close());
      const check = await raw.call('ServerCheckRequest', { headers: {}, module: 'internal' });
      assert.equal(check.type, 'ServerCheckResponse');
      const early = await raw.call('InstanceRequest', { headers: {}, module: 'naming', serviceName: 's',
        type: 'registerInstance', instance: { ip: '10.0.0.1', port: 1 } });
      assert.equal(early.type, 'ErrorResponse');
      assert.deepEqual([early.body.resultCode, early.body.errorCode, early.body.message], [500, 301, 'Connection is unregistered.']);
      raw.openStream();
      raw.send('ConnectionSetupRequest', { headers: {}, module: 'internal', clientVersion: 'raw', labels: {}, abilityTable: {} });
      await waitUntil(async () => (await connections(mock)).some(c => c.setUp), 3000, 'the raw connection set up');
      const unknown = await raw.call('FooRequest', { headers: {}, module: 'internal' });
      assert.deepEqual([unknown.type, unknown.body.errorCode], ['ErrorResponse', 302]);
      const notJson = await raw.call('InstanceRequest', 'this is not JSON');
      assert.deepEqual([notJson.type, notJson.body.errorCode], ['ErrorResponse', 502]);

      // SDK level. A connection whose set-up was refused answers 301: Java switches server (a new
      // connection), waits 100 ms and sends again — the registration succeeds
      const rule = await mock.control('POST', '/__mock/faults',
        { match: { api: 'setup', transport: 'grpc' }, action: { status: 500 }, times: 1 });
      assert.equal(rule.status, 201, rule.body);
      const java = await javaClient(env, mock);
      const first = java.connectionId;
      // (4 attempts; should the new connection not be up in time, the redo task registers it)
      await java.registerInstance('e', 'G', { ip: '10.0.3.1', port: 1 }).catch(err => java.note(`register failed: ${err.message}`));
      await waitReRegistered(mock, 'e', '10.0.3.1', 1, first, JAVA_REDO_BOUND_MS + 2000);
      assert.notEqual(java.connectionId, first, 'Java reconnected after errorCode 301');
      const regs = await journal(mock, { transport: 'grpc', api: 'register', serviceName: 'e' });
      assert.deepEqual([regs[0].connectionId, regs[0].status], [first, 500]);
      assert.ok(regs.some(r => r.connectionId === java.connectionId && r.status === 200));

      // 400 naming the field: Java retries an error answer (4 attempts in 3 s), then throws it
      await assert.rejects(java.registerInstance('e', 'G', { ip: '10.0.3.2', port: 70000 }),
        err => err.code === 400 && /port/.test(err.errMsg));
      const bad = await journal(mock, { transport: 'grpc', api: 'register', serviceName: 'e', status: 500 });
      assert.equal(bad.filter(r => r.params.instance.port === 70000).length, 4, 'Java sent the bad request 4 times');
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'e', groupName: 'G' })), ['10.0.3.1:1']);
      // a request that used up its attempts leaves Java UNHEALTHY until a health check (after a random
      // pause under 500 ms) says the connection is fine; meanwhile requests fail "Client not connected"
      await waitUntil(() => java.isRunning(), 3000, 'the java client running again (health check passed)');
      // 302 through the SDK: the same retries, then NacosException(302); the connection stays
      await assert.rejects(java.request('FooRequest', { headers: {}, module: 'internal' }), err => err.code === 302);
      await waitUntil(() => java.isRunning(), 3000, 'the java client running again');
      assert.equal((await connections(mock)).filter(c => c.clientVersion.startsWith('Nacos-Java')).length, 1);
    }));

  test('ConnectResetRequest: Java answers, reconnects and redoes registration and subscription', { timeout: 20000 }, t =>
    withEnv(async env => {
      const mock = await env.mock();
      const java = await javaClient(env, mock);
      const other = await javaClient(env, mock);
      await java.registerInstance('reset', 'G', { ip: '10.0.4.1', port: 1 });
      const seen = [];
      await java.subscribe('reset', 'G', [], hosts => seen.push(addrs(hosts)));
      const old = java.connectionId;
      const resets = [];
      java.on('serverRequest', r => resets.push(r));

      const t0 = Date.now();
      const r = await mock.control('POST', `/__mock/connections/${old}/reset`, {});
      assert.equal(r.status, 202, r.body);
      const ms = await waitReRegistered(mock, 'reset', '10.0.4.1', 1, old, JAVA_REDO_BOUND_MS + 2000);
      const total = Date.now() - t0;
      t.diagnostic(`java: registered again ${total} ms after ConnectResetRequest (bound ${JAVA_REDO_BOUND_MS} ms)`);
      assert.ok(total <= JAVA_REDO_BOUND_MS, `re-registered after ${total} ms (${ms} ms of waiting)`);
      assert.equal(resets[0].type, 'ConnectResetRequest');
      assert.notEqual(java.connectionId, old);
      const conns = await connections(mock);
      assert.equal(conns.some(c => c.id === old), false, 'Java closed the connection it abandoned');
      await waitUntil(async () => {
        const mine = (await connections(mock)).find(c => c.id === java.connectionId);
        return mine && mine.subscriptions === 1 && mine.instances === 1;
      }, REDO_DELAY_MS + SLACK_MS, 'the subscription redone on the new connection');
      // the other client was not touched
      assert.ok(conns.some(c => c.id === other.connectionId));
      // pushes reach the new connection: a change made over v1 arrives
      await mock.http('POST', '/nacos/v1/ns/instance', { serviceName: 'reset', groupName: 'G', ip: '10.0.4.2', port: 2 });
      await waitUntil(() => seen.some(s => s.includes('10.0.4.2:2')), 3000, 'a push on the new connection');
    }));

  test('DELETE /__mock/connections/{id} and DELETE /__mock/connections: every Java client reconnects and redoes', { timeout: 20000 }, t =>
    withEnv(async env => {
      const mock = await env.mock();
      const c1 = await javaClient(env, mock);
      const c2 = await javaClient(env, mock);
      await c1.registerInstance('gone', 'G', { ip: '10.0.5.1', port: 1 });
      await c2.batchRegisterInstance('gone', 'G', [{ ip: '10.0.5.2', port: 2 }, { ip: '10.0.5.3', port: 3 }]);

      // one connection: its instances leave the v1 list at once, then come back by redo
      const old1 = c1.connectionId;
      const t0 = Date.now();
      assert.equal((await mock.control('DELETE', `/__mock/connections/${old1}`)).status, 204);
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'gone', groupName: 'G' })), ['10.0.5.2:2', '10.0.5.3:3']);
      await waitReRegistered(mock, 'gone', '10.0.5.1', 1, old1, JAVA_REDO_BOUND_MS + 2000);
      const one = Date.now() - t0;
      t.diagnostic(`java: registered again ${one} ms after its connection was closed (bound ${JAVA_REDO_BOUND_MS} ms)`);
      assert.ok(one <= JAVA_REDO_BOUND_MS, `redo took ${one} ms`);

      // every connection
      const before = [c1.connectionId, c2.connectionId];
      const t1 = Date.now();
      assert.equal((await mock.control('DELETE', '/__mock/connections')).status, 204);
      assert.deepEqual(await v1Hosts(mock, { serviceName: 'gone', groupName: 'G' }), []);
      await waitUntil(async () => addrs(await v1Hosts(mock, { serviceName: 'gone', groupName: 'G' })).length === 3,
        JAVA_REDO_BOUND_MS + 2000, 'all three instances registered again');
      const all = Date.now() - t1;
      t.diagnostic(`java: two clients registered again ${all} ms after DELETE /__mock/connections`);
      assert.ok(all <= JAVA_REDO_BOUND_MS, `redo took ${all} ms`);
      const ids = (await connections(mock)).map(c => c.id);
      assert.equal(ids.length, 2);
      assert.ok(before.every(id => !ids.includes(id)), 'both reconnected');
    }));

  test('gRPC faults: 500 and grpcStatus 14 are retried, drop close reconnects and redoes', { timeout: 25000 }, t =>
    withEnv(async env => {
      const mock = await env.mock();
      const java = await javaClient(env, mock);
      const add = async rule => {
        const r = await mock.control('POST', '/__mock/faults', rule);
        assert.equal(r.status, 201, r.body);
        return r.json.id;
      };

      // an ErrorResponse 500 once: Java's request loop sends again, the caller never sees it
      const id500 = await add({ match: { api: 'register', transport: 'grpc', serviceName: 'f500' }, action: { status: 500 }, times: 1 });
      await java.registerInstance('f500', 'G', { ip: '10.0.6.1', port: 1 });
      const r500 = await journal(mock, { transport: 'grpc', serviceName: 'f500' });
      assert.deepEqual(r500.map(r => [r.status, r.fault || null]), [[500, id500], [200, null]]);

      // grpc-status 14 once: the same
      await add({ match: { api: 'register', transport: 'grpc', serviceName: 'f14' }, action: { grpcStatus: 14 }, times: 1 });
      await java.registerInstance('f14', 'G', { ip: '10.0.6.2', port: 2 });
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'f14', groupName: 'G' })), ['10.0.6.2:2']);

      // drop close: the connection dies under the call; Java reconnects, and its registrations come back
      const before = java.connectionId;
      await add({ match: { api: 'register', transport: 'grpc', serviceName: 'fclose' }, action: { drop: 'close' }, times: 1 });
      const t0 = Date.now();
      await java.registerInstance('fclose', 'G', { ip: '10.0.6.3', port: 3 }).catch(() => {});
      await waitUntil(async () => (await v1Hosts(mock, { serviceName: 'f14', groupName: 'G' })).length === 1 &&
        (await v1Hosts(mock, { serviceName: 'fclose', groupName: 'G' })).length === 1, JAVA_REDO_BOUND_MS + 2000,
      'every registration back after the connection was dropped');
      t.diagnostic(`java: registrations back ${Date.now() - t0} ms after drop:"close"`);
      assert.notEqual(java.connectionId, before);
    }));

  test('a health check answered with an error: Java reconnects after 5 s idle and redoes', { timeout: 25000 }, t =>
    withEnv(async env => {
      const mock = await env.mock();
      const java = await javaClient(env, mock);
      await java.registerInstance('hc', 'G', { ip: '10.0.7.1', port: 1 });
      const before = java.connectionId;
      const r = await mock.control('POST', '/__mock/faults',
        { match: { api: 'healthcheck', transport: 'grpc' }, action: { status: 500 }, times: 1 });
      assert.equal(r.status, 201, r.body);
      const t0 = Date.now();
      // the check runs once the connection has been idle KEEP_ALIVE_MS, looked at every KEEP_ALIVE_MS,
      // after a random pause under 500 ms
      await waitUntil(() => java.connectionId !== before, KEEP_ALIVE_MS * 2 + 500 + SLACK_MS,
        'a reconnect after the failed health check');
      const hc = await journal(mock, { transport: 'grpc', api: 'healthcheck' });
      assert.ok(hc.some(x => x.status === 500 && x.connectionId === before), JSON.stringify(hc));
      await waitReRegistered(mock, 'hc', '10.0.7.1', 1, before, JAVA_REDO_BOUND_MS + 2000);
      t.diagnostic(`java: reconnected and registered again ${Date.now() - t0} ms after the faulty health check was armed`);
    }));
});
