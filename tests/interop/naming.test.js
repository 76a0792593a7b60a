'use strict';
/*
 * Interop: the real npm `nacos` client (NacosNamingClient from nacos-naming) against nacos-mock.
 * Every test starts its own mock on 127.0.0.1 with a free port and closes what it opened.
 * Run through tests/interop/run.sh (it sets NACOS_MOCK_BIN).
 */
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { NacosNamingClient } = require('nacos');
const { startMock, waitUntil, sleep, memoryLogger } = require('./lib');

const JAVA_UA = { 'User-Agent': 'Nacos-Java-Client:v1.0.0' };   // what nacos-naming sends
const HOST_KEYS = ['ip', 'port', 'weight', 'healthy', 'valid', 'enabled', 'ephemeral', 'marked', 'clusterName',
  'serviceName', 'metadata', 'instanceId'];

function project(host) {
  const o = {};
  for (const k of HOST_KEYS) o[k] = host[k];
  return o;
}

function expectedHost({ ip, port, weight = 1, healthy = true, cluster = 'DEFAULT', group = 'DEFAULT_GROUP', service,
  metadata = {} }) {
  const grouped = `${group}@@${service}`;
  return {
    ip, port, weight, healthy, valid: healthy, enabled: true, ephemeral: true, marked: false, clusterName: cluster,
    serviceName: grouped, metadata, instanceId: `${ip}#${port}#${cluster}#${grouped}`,
  };
}

const addr = h => `${h.ip}:${h.port}`;
const addrs = hosts => hosts.map(addr).sort();

/**
 * Runs body(env) with env.mock(args), env.client(mock, opts); afterwards closes every client and stops
 * every mock, asserting exit code 0 when the body passed. A failure gets the mock's stderr tail and
 * the clients' warn/error lines appended.
 */
async function withEnv(body) {
  const mocks = [];
  const clients = [];
  const env = {
    async mock(args = []) {
      const m = await startMock(args);
      mocks.push(m);
      return m;
    },
    async client(mock, opts = {}) {
      const logger = memoryLogger(`client${clients.length + 1}`);
      const c = new NacosNamingClient({ logger, serverList: `127.0.0.1:${mock.port}`, ...opts });
      c.testLogger = logger;
      clients.push(c);
      await c.ready();
      return c;
    },
  };
  let failure = null;
  try {
    await body(env);
  } catch (err) {
    failure = err;
  }
  for (const c of clients) await c.close();
  const codes = [];
  for (const m of mocks) codes.push(await m.stop());
  if (failure) {
    const diag = [];
    for (const m of mocks) diag.push(`--- nacos-mock ${m.url} stderr (tail) ---`, ...m.logs().slice(-40));
    clients.forEach((c, i) => diag.push(`--- client${i + 1} warn/error ---`, ...c.testLogger.problems().slice(-20)));
    failure.message += `\n${diag.join('\n')}`;
    throw failure;
  }
  assert.deepEqual(codes, mocks.map(() => 0), 'nacos-mock exit codes after SIGTERM');
}

/** GET /nacos/v1/ns/instance/list straight from the mock (as the Java/Node UA sees it). */
async function listDirect(mock, form) {
  const r = await mock.http('GET', '/nacos/v1/ns/instance/list', form, JAVA_UA);
  assert.equal(r.status, 200, `instance/list ${JSON.stringify(form)} -> ${r.status} ${r.body}`);
  return r.json();
}

describe('nacos npm client against nacos-mock', { concurrency: true }, () => {
  test('default namespace: register, getAllInstances, selectInstances, deregister', { timeout: 20000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const client = await env.client(mock);   // no namespace option: the client's default
      const group = 'interop-group';
      const service = 'orders';
      const a = { ip: '10.1.2.3', port: 18080, weight: 2.5, clusterName: 'CL1', metadata: { k: 'v', team: 'interop' } };
      await client.registerInstance(service, a, group);

      const expA = expectedHost({ ip: a.ip, port: a.port, weight: 2.5, cluster: 'CL1', group, service, metadata: a.metadata });

      // the client's default namespace lands in the mock's `public` (explicit or implied)
      for (const ns of ['public', undefined]) {
        const form = { serviceName: service, groupName: group };
        if (ns) form.namespaceId = ns;
        const doc = await listDirect(mock, form);
        assert.equal(doc.name, `${group}@@${service}`);
        assert.equal(doc.groupName, group);
        assert.equal(doc.hosts.length, 1, JSON.stringify(doc));
        assert.deepEqual(project(doc.hosts[0]), expA);
      }
      const other = await listDirect(mock, { serviceName: service, groupName: group, namespaceId: 'default' });
      assert.deepEqual(other.hosts, [], 'nothing may land in a namespace literally called "default"');

      // register request as logged by the mock
      await mock.waitForLog(new RegExp(`POST /nacos/v1/ns/instance api=register status=200 [0-9.]+ms service=${group}@@${service} instance=10\\.1\\.2\\.3:18080`));

      const detail = await mock.http('GET', '/nacos/v1/ns/instance',
        { serviceName: `${group}@@${service}`, ip: a.ip, port: a.port, clusterName: 'CL1' });
      assert.equal(detail.status, 200, detail.body);
      assert.deepEqual(detail.json().metadata, a.metadata);

      const all = await client.getAllInstances(service, group);
      assert.equal(all.length, 1);
      assert.deepEqual(project(all[0]), expA);

      // a second, unhealthy instance registered directly (no client beats would heal it)
      const b = await mock.http('POST', '/nacos/v1/ns/instance', {
        serviceName: service, groupName: group, ip: '10.1.2.4', port: 18081, clusterName: 'CL1', healthy: 'false',
      });
      assert.equal(b.status, 200, b.body);
      assert.equal(b.body, 'ok');
      const expB = expectedHost({ ip: '10.1.2.4', port: 18081, healthy: false, cluster: 'CL1', group, service });

      const healthy = await client.selectInstances(service, group, '', true, false);
      assert.deepEqual(healthy.map(project), [expA]);
      const unhealthy = await client.selectInstances(service, group, '', false, false);
      assert.deepEqual(unhealthy.map(project), [expB]);
      const both = await client.getAllInstances(service, group, '', false);
      assert.deepEqual(addrs(both), ['10.1.2.3:18080', '10.1.2.4:18081']);
      // cluster filter passes through
      const cl1 = await client.getAllInstances(service, group, 'CL1', false);
      assert.equal(cl1.length, 2);
      const none = await client.selectInstances(service, group, 'OTHER', true, false);
      assert.deepEqual(none, []);

      assert.equal(await client.getServerStatus(), 'UP');

      await client.deregisterInstance(service, { ip: a.ip, port: a.port, clusterName: 'CL1' }, group);
      // only the unhealthy B is left: all hosts unhealthy reaches the protect threshold (0.0), so Nacos
      // 1.x reports every host healthy (nacos-api.md §2.1)
      const after = await listDirect(mock, { serviceName: service, groupName: group, namespaceId: 'public' });
      assert.deepEqual(after.hosts.map(project), [{ ...expB, healthy: true, valid: true }]);
      assert.equal(after.reachProtectionThreshold, true);
      await mock.waitForLog(new RegExp(`DELETE /nacos/v1/ns/instance api=deregister status=200 [0-9.]+ms service=${group}@@${service} instance=10\\.1\\.2\\.3:18080`));
      assert.deepEqual(client.testLogger.problems(), [], 'client logged warnings/errors');
    }));

  test("namespace 'public' given explicitly", { timeout: 20000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const client = await env.client(mock, { namespace: 'public' });
      const inst = { ip: '10.2.0.1', port: 9000, metadata: { zone: 'z1' } };
      await client.registerInstance('pay', inst);
      const exp = expectedHost({ ip: inst.ip, port: inst.port, service: 'pay', metadata: { zone: 'z1' } });

      for (const form of [{ serviceName: 'pay' }, { serviceName: 'DEFAULT_GROUP@@pay', namespaceId: 'public' }]) {
        const doc = await listDirect(mock, form);
        assert.equal(doc.name, 'DEFAULT_GROUP@@pay');
        assert.deepEqual(doc.hosts.map(project), [exp]);
      }
      const all = await client.getAllInstances('pay');
      assert.deepEqual(all.map(project), [exp]);
      const sel = await client.selectInstances('pay');
      assert.deepEqual(sel.map(project), [exp]);
      assert.equal(await client.getServerStatus(), 'UP');

      await client.deregisterInstance('pay', { ip: inst.ip, port: inst.port });
      const doc = await listDirect(mock, { serviceName: 'pay', namespaceId: 'public' });
      assert.deepEqual(doc.hosts, []);
      // (not asserted: nacos-naming ignores an answer with "hosts":[] and keeps serving its cached
      // list, so client.getAllInstances('pay') still returns the deregistered instance)
      assert.deepEqual(client.testLogger.problems(), [], 'client logged warnings/errors');
    }));

  test('custom namespace is isolated from public', { timeout: 20000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const nsClient = await env.client(mock, { namespace: 'interop-ns' });
      const pubClient = await env.client(mock);
      await nsClient.registerInstance('cart', { ip: '10.3.0.1', port: 7001 }, 'g1');

      const inNs = await listDirect(mock, { serviceName: 'cart', groupName: 'g1', namespaceId: 'interop-ns' });
      assert.deepEqual(inNs.hosts.map(project), [expectedHost({ ip: '10.3.0.1', port: 7001, group: 'g1', service: 'cart' })]);
      const inPublic = await listDirect(mock, { serviceName: 'cart', groupName: 'g1' });
      assert.deepEqual(inPublic.hosts, []);

      assert.deepEqual(addrs(await nsClient.getAllInstances('cart', 'g1', '', false)), ['10.3.0.1:7001']);
      assert.deepEqual(await pubClient.getAllInstances('cart', 'g1', '', false), []);

      await nsClient.deregisterInstance('cart', { ip: '10.3.0.1', port: 7001 }, 'g1');
      const gone = await listDirect(mock, { serviceName: 'cart', groupName: 'g1', namespaceId: 'interop-ns' });
      assert.deepEqual(gone.hosts, []);
    }));

  test('subscribe: appear, update from a second client, disappear (UDP push)', { timeout: 25000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const subscriber = await env.client(mock);
      const other = await env.client(mock);
      const service = 'push-svc';
      const events = [];
      const wakers = new Set();
      subscriber.subscribe({ serviceName: service }, hosts => {
        events.push({ t: Date.now(), hosts: addrs(hosts), raw: hosts });
        for (const w of wakers) w();
      });
      const nextEvent = async (want, ms, label) => {
        const from = events.length;
        const e = await waitUntil(() => events.slice(from).find(ev => JSON.stringify(ev.hosts) === JSON.stringify(want)),
          ms, () => `${label}: listener with ${JSON.stringify(want)}; events so far ${JSON.stringify(events.map(x => x.hosts))}`, wakers);
        return e;
      };
      const listLine = new RegExp(`GET /nacos/v1/ns/instance/list api=list status=200 [0-9.]+ms service=DEFAULT_GROUP@@${service}`);
      // the subscription poll (udpPort>0), then the client's first re-poll 1 s later; after that the next
      // poll is >= 5 s away, so updates within 2 s below can only come by UDP push
      await mock.waitForLog(listLine, 1, 3000);
      await mock.waitForLog(listLine, 2, 3000);

      const pushCount = () => subscriber.testLogger.lines.filter(l => l.includes('[PushReceiver] received push data')).length;
      let pushes = pushCount();
      const expectPushed = () => {
        assert.ok(pushCount() > pushes, 'the update must have come by UDP push');
        pushes = pushCount();
      };
      const t0 = Date.now();
      const A = { ip: '10.4.0.1', port: 8001, metadata: { role: 'a' } };
      await subscriber.registerInstance(service, A);
      const e1 = await nextEvent(['10.4.0.1:8001'], 2000, 'appear');
      assert.ok(e1.t - t0 < 2000);
      expectPushed();
      assert.deepEqual(project(e1.raw[0]), expectedHost({ ip: A.ip, port: A.port, service, metadata: { role: 'a' } }));

      const B = { ip: '10.4.0.2', port: 8002 };
      await other.registerInstance(service, B);
      await nextEvent(['10.4.0.1:8001', '10.4.0.2:8002'], 2000, 'second instance');
      expectPushed();

      await other.deregisterInstance(service, B);
      await nextEvent(['10.4.0.1:8001'], 2000, 'disappear');
      expectPushed();

      // the subscriber's cache follows the pushes
      const cached = await subscriber.selectInstances(service, 'DEFAULT_GROUP', 'DEFAULT');
      assert.deepEqual(addrs(cached), ['10.4.0.1:8001']);

      // last instance gone: the mock pushes an empty host list (nacos-naming ignores empty lists,
      // so its listener is not called; we check the push arrived via the client's own log)
      const pushesBefore = pushCount();
      await subscriber.deregisterInstance(service, A);
      const doc = await listDirect(mock, { serviceName: service });
      assert.deepEqual(doc.hosts, []);
      const pushed = await waitUntil(() => subscriber.testLogger.lines
        .filter(l => l.includes('[PushReceiver] received push data')).slice(pushesBefore)
        .find(l => /\\"hosts\\":\[\]/.test(l)), 2000, 'a push with "hosts":[] after the last deregistration');
      assert.match(pushed, /DEFAULT_GROUP@@push-svc/);
      assert.deepEqual(subscriber.testLogger.problems(), [], 'subscriber logged warnings/errors');
      assert.deepEqual(other.testLogger.problems(), [], 'second client logged warnings/errors');
    }));

  test('getServerStatus: UP while the mock runs, DOWN once it is gone', { timeout: 15000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const client = await env.client(mock);
      assert.equal(await client.getServerStatus(), 'UP');
      await mock.waitForLog(/GET \/nacos\/v1\/ns\/operator\/metrics api=metrics status=200/);
      assert.equal(await mock.stop(), 0);
      assert.equal(await client.getServerStatus(), 'DOWN');
    }));

  test('beats: the client beats at the returned clientBeatInterval', { timeout: 30000 }, () =>
    withEnv(async env => {
      // 300 ms beats; generous miss counts because nacos-naming sends its first beat only after an
      // initial 10 s sleep (counted from client construction)
      const mock = await env.mock(['--beat-interval-ms', '300', '--unhealthy-misses', '100', '--delete-misses', '200']);
      const client = await env.client(mock);
      const service = 'beat-svc';
      await client.registerInstance(service, { ip: '10.5.0.1', port: 8500, metadata: { m: '1' } });
      const beatLine = new RegExp(`PUT /nacos/v1/ns/instance/beat api=beat status=200 [0-9.]+ms service=DEFAULT_GROUP@@${service}`);

      await mock.waitForLog(beatLine, 1, 15000);
      const lines = await mock.waitForLog(beatLine, 6, 4000);
      const times = lines.map(l => Date.parse(l.split(' ')[0]));
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      for (const g of gaps.slice(0, 5)) {
        assert.ok(g >= 200 && g <= 1500, `beat gaps should follow clientBeatInterval=300 ms, got ${JSON.stringify(gaps)}`);
      }

      // the instance is alive and known: a light beat (no body) answers 10200 with the interval
      const direct = await mock.http('PUT', '/nacos/v1/ns/instance/beat',
        { serviceName: `DEFAULT_GROUP@@${service}`, ip: '10.5.0.1', port: 8500, namespaceId: 'public' });
      assert.equal(direct.status, 200, direct.body);
      assert.deepEqual(direct.json(), { clientBeatInterval: 300, code: 10200, lightBeatEnabled: true });

      const doc = await listDirect(mock, { serviceName: service, namespaceId: 'public' });
      assert.equal(doc.hosts.length, 1);
      assert.equal(doc.hosts[0].healthy, true);
      assert.equal(doc.hosts[0].instanceHeartBeatInterval, 300);
      assert.deepEqual(doc.hosts[0].metadata, { m: '1' });

      // deregistration stops the beats
      await client.deregisterInstance(service, { ip: '10.5.0.1', port: 8500 });
      await sleep(400);
      const n = mock.logs().filter(l => beatLine.test(l)).length;
      await sleep(1000);
      assert.equal(mock.logs().filter(l => beatLine.test(l)).length, n, 'no beats after deregisterInstance');
      const gone = await listDirect(mock, { serviceName: service, namespaceId: 'public' });
      assert.deepEqual(gone.hosts, []);
      assert.deepEqual(client.testLogger.problems(), [], 'client logged warnings/errors');
    }));
});
