'use strict';
/*
 * Interop: the real Rust 2.x gRPC client — npm nacos-sdk-rust-binding-node 0.8.0 (nacos-sdk-rust
 * 0.8.0) — against nacos-mock started with nothing but --port 0. The client is given only
 * "127.0.0.1:PORT" and dials PORT + 1000 itself. Each client runs in a child process of its own
 * (rust-client.js: the binding cannot be closed, so the child is killed at the end).
 *
 * Re-registration bound, from nacos-sdk-rust 0.8.0 (src/common/remote/grpc/nacos_grpc_connection.rs,
 * src/naming/redo/mod.rs): a closed bi-stream only marks the connection unhealthy; the health-check
 * task notices it on its next round (it sleeps 5 s between rounds), the connection then waits
 * sleep_time(1) = 2 s before reconnecting, and the redo task, which runs every 3 s, re-registers once
 * the connection is back. Worst case 5 + 2 + 3 s, plus the reconnect itself.
 * The tests run concurrently (~11 s, the re-registration being the longest).
 * Run through tests/interop/run.sh (it sets NACOS_MOCK_BIN).
 */
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { withEnv, waitUntil, v1Hosts, connections, journal } = require('./lib');
const { startRustClient } = require('./rust-client');
const { NacosGrpcClient } = require('./grpc-client');

const HEALTH_CHECK_PERIOD_MS = 5000;   // FailoverConnection::health_check: sleep(5 s) between rounds
const RETRY_SLEEP_MS = 2000;           // sleep_time(1) = 1 << 1 s before the first reconnect
const REDO_PERIOD_MS = 3000;           // RedoTaskExecutor: interval(3000 ms)
const SLACK_MS = 2000;                 // the reconnect's handshakes and set-up calls on a loaded, shared 2-core machine
const RUST_REDO_BOUND_MS = HEALTH_CHECK_PERIOD_MS + RETRY_SLEEP_MS + REDO_PERIOD_MS + SLACK_MS;

const addr = h => `${h.ip}:${h.port}`;
const addrs = hosts => hosts.map(addr).sort();
const has = (p, a) => p.instances.some(h => addr(h) === a);

async function rustClient(env, mock, opts = {}) {
  const c = await startRustClient(`127.0.0.1:${mock.port}`, opts);
  env.track(c, () => c.kill(), () => [`--- rust client ${c.pid} pushes ---`, JSON.stringify(c.pushes), c.output()]);
  return c;
}

/** The connection a client made, found by its AppName label. */
async function connectionOf(mock, appName) {
  const conns = await connections(mock);
  return conns.find(c => c.labels.AppName === appName);
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

describe('Rust nacos-sdk-rust-binding-node 0.8.0 against nacos-mock', { concurrency: true }, () => {
  test('register, subscribe (changes from v1, the sweeper and a Java client), getAll, select, batch, deregister', { timeout: 25000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const rust = await rustClient(env, mock, { appName: 'rust-app' });
      const conn = await connectionOf(mock, 'rust-app');
      assert.equal(conn.clientVersion, 'Nacos-Rust-Client:0.8.0');
      assert.deepEqual(conn.labels, { source: 'sdk', module: 'naming', AppName: 'rust-app' });
      const [setup] = await journal(mock, { transport: 'grpc', api: 'setup' });
      assert.ok('abilities' in setup.params, 'Rust names its abilities "abilities"');

      await rust.subscribe('svc', 'G', null);
      await rust.call('registerInstance', 'svc', 'G', { ip: '10.2.0.1', port: 8080, metadata: { k: 'v' } });
      let p = await rust.waitForPush(x => has(x, '10.2.0.1:8080'));
      assert.deepEqual(p.instances[0].metadata, { k: 'v' });
      assert.equal(p.instances[0].instanceId, '10.2.0.1#8080#DEFAULT#G@@svc', 'the server filled the id Rust left null');
      const [h] = await v1Hosts(mock, { serviceName: 'svc', groupName: 'G' });
      assert.deepEqual([addr(h), h.clusterName, h.healthy, h.ephemeral], ['10.2.0.1:8080', 'DEFAULT', true, true]);

      // a change made over v1 HTTP reaches the gRPC subscriber (one registry, one change notification)
      let from = rust.pushes.length;
      assert.equal((await mock.http('POST', '/nacos/v1/ns/instance', { serviceName: 'svc', groupName: 'G', ip: '10.2.0.2', port: 2 })).status, 200);
      await rust.waitForPush(x => has(x, '10.2.0.2:2'), 3000, from);

      // the sweeper removes the v1 instance (no beats) once the clock is 31 s on; the gRPC instance
      // belongs to its connection and is never swept
      from = rust.pushes.length;
      const adv = await mock.control('POST', '/__mock/clock/advance', { ms: 31000 });
      assert.equal(adv.status, 200, adv.body);
      assert.deepEqual(adv.json.changes.filter(c => c.to === 'REMOVED').map(c => c.instanceId), ['10.2.0.2#2#DEFAULT#G@@svc']);
      p = await rust.waitForPush(x => !has(x, '10.2.0.2:2'), 3000, from);
      assert.deepEqual(addrs(p.instances), ['10.2.0.1:8080']);

      // a change from another gRPC client (the scripted Java one)
      const java = new NacosGrpcClient('java', { serverAddr: `127.0.0.1:${mock.port}` });
      env.track(java, () => java.close());
      await java.start();
      from = rust.pushes.length;
      await java.registerInstance('svc', 'G', { ip: '10.2.0.3', port: 3, clusterName: 'C2' });
      await rust.waitForPush(x => has(x, '10.2.0.3:3'), 3000, from);

      assert.deepEqual(addrs(await rust.call('getAllInstances', 'svc', 'G')), ['10.2.0.1:8080', '10.2.0.3:3']);
      // (no clusters argument: Rust 0.8 caches a subscription under the service without clusters, so
      // getAllInstances(..., ['C2']) answers every cluster from that cache, and its SubscribeServiceRequest
      // for "C2" adds a second, filtered subscription on the connection)
      // selectInstances(healthy = true) leaves an unhealthy one out
      from = rust.pushes.length;
      await mock.http('POST', '/nacos/v1/ns/instance', { serviceName: 'svc', groupName: 'G', ip: '10.2.0.4', port: 4, healthy: 'false' });
      await rust.waitForPush(x => has(x, '10.2.0.4:4'), 3000, from);
      assert.deepEqual(addrs(await rust.call('selectInstances', 'svc', 'G', null, true, true)), ['10.2.0.1:8080', '10.2.0.3:3']);
      assert.deepEqual(addrs(await rust.call('selectInstances', 'svc', 'G', null, true, false)), ['10.2.0.4:4']);

      await rust.call('batchRegisterInstance', 'batch', 'G', [{ ip: '10.2.1.1', port: 1 }, { ip: '10.2.1.2', port: 2, weight: 3 }]);
      const batch = await v1Hosts(mock, { serviceName: 'batch', groupName: 'G' });
      assert.deepEqual(batch.map(x => [addr(x), x.weight]).sort(), [['10.2.1.1:1', 1], ['10.2.1.2:2', 3]]);

      from = rust.pushes.length;
      await rust.call('deregisterInstance', 'svc', 'G', { ip: '10.2.0.1', port: 8080 });
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'svc', groupName: 'G' })), ['10.2.0.3:3', '10.2.0.4:4']);
      await rust.waitForPush(x => !has(x, '10.2.0.1:8080'), 3000, from);
    }));

  test('connection closed: instances leave the lists at once, a subscriber is pushed, the client re-registers', { timeout: 25000 }, t =>
    withEnv(async env => {
      const mock = await env.mock();
      const sub = await rustClient(env, mock, { appName: 'rust-sub', namingPushEmptyProtection: false });
      const pub = await rustClient(env, mock, { appName: 'rust-pub' });
      await sub.subscribe('redo', 'G', null);
      await pub.call('registerInstance', 'redo', 'G', { ip: '10.2.2.1', port: 1 });
      await sub.waitForPush(x => has(x, '10.2.2.1:1'));
      const conn = await connectionOf(mock, 'rust-pub');
      assert.equal(conn.instances, 1);

      const from = sub.pushes.length;
      const t0 = Date.now();
      assert.equal((await mock.control('DELETE', `/__mock/connections/${conn.id}`)).status, 204);
      assert.deepEqual(await v1Hosts(mock, { serviceName: 'redo', groupName: 'G' }), [], 'gone the moment the connection closed');
      await sub.waitForPush(x => x.instances.length === 0, 3000, from);

      await waitUntil(async () => {
        const i = await registryInstance(mock, 'redo', '10.2.2.1', 1);
        return i && i.connectionId !== conn.id;
      }, RUST_REDO_BOUND_MS + 3000, 'the Rust client registered again');
      const ms = Date.now() - t0;
      t.diagnostic(`rust: registered again ${ms} ms after its connection was closed (bound ${RUST_REDO_BOUND_MS} ms)`);
      assert.ok(ms <= RUST_REDO_BOUND_MS, `re-registration took ${ms} ms`);
      await sub.waitForPush(x => has(x, '10.2.2.1:1'), 3000, from);
      const again = await connectionOf(mock, 'rust-pub');
      assert.notEqual(again.id, conn.id);
    }));

  test('a subscriber is pushed the removal when a Rust client dies (process killed)', { timeout: 15000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const sub = await rustClient(env, mock, { appName: 'rust-watch', namingPushEmptyProtection: false });
      const pub = await rustClient(env, mock, { appName: 'rust-dies' });
      await sub.subscribe('crash', 'G', null);
      await pub.call('registerInstance', 'crash', 'G', { ip: '10.2.3.1', port: 1 });
      await sub.waitForPush(x => has(x, '10.2.3.1:1'));
      const from = sub.pushes.length;
      await pub.kill();
      await sub.waitForPush(x => x.instances.length === 0, 3000, from);
      assert.deepEqual(await v1Hosts(mock, { serviceName: 'crash', groupName: 'G' }), []);
      assert.equal(await connectionOf(mock, 'rust-dies'), undefined);
    }));

  test('ConnectResetRequest: Rust 0.8 has no handler for it and keeps its connection', { timeout: 15000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const rust = await rustClient(env, mock, { appName: 'rust-reset' });
      await rust.call('registerInstance', 'keep', 'G', { ip: '10.2.4.1', port: 1 });
      const conn = await connectionOf(mock, 'rust-reset');
      const last = (await journal(mock, { limit: 1 }))[0].seq;
      assert.equal((await mock.control('POST', `/__mock/connections/${conn.id}/reset`, {})).status, 202);
      // its next health check (one round, 5 s) still comes over the same connection, unanswered reset or not
      await waitUntil(async () => (await journal(mock, { transport: 'grpc', api: 'healthcheck', since: String(last) }))
        .some(e => e.connectionId === conn.id && e.status === 200), HEALTH_CHECK_PERIOD_MS + SLACK_MS, 'a health check after the reset');
      assert.equal((await connectionOf(mock, 'rust-reset')).id, conn.id);
      assert.deepEqual(addrs(await v1Hosts(mock, { serviceName: 'keep', groupName: 'G' })), ['10.2.4.1:1']);
    }));
});
