'use strict';
/*
 * Interop, chaos rehearsal: what the control plane (control-api.md) does to a real npm `nacos`
 * client (NacosNamingClient from nacos-naming).
 *
 *  (a) beats fail with an injected 500 for a while: the mock's journal shows the failed beats with
 *      the rule's id, the client reports them, and once the rule is deleted its beats succeed again;
 *      the instance was never lost (same registeredMs) and is healthy.
 *  (b) POST /__mock/forget (a registry restart): the instance is gone, and the client's next beat,
 *      which always carries the beat body, registers it again.
 *
 * Client facts that shape the timing: nacos-naming's beat loop sleeps 10 s before its first beat
 * (then it uses the clientBeatInterval the server answers, 200 ms here), and after a failed beat it
 * waits DEFAULT_DELAY (5 s). The mock runs with long miss thresholds so that neither of these
 * makes the instance unhealthy or removed by itself. Both tests run concurrently (~17 s).
 * Run through tests/interop/run.sh (it sets NACOS_MOCK_BIN).
 */
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { NacosNamingClient } = require('nacos');
const { startMock, waitUntil, sleep, memoryLogger } = require('./lib');

const MOCK_ARGS = ['--beat-interval-ms', '200', '--unhealthy-misses', '100', '--delete-misses', '200',
  '--sweep-interval-ms', '100'];

/** A JSON control-plane call (lib.js's mock.control). Resolves {status, body, json}. */
const control = (mock, method, pathname, obj) => mock.control(method, pathname, obj);

/** Journal entries (GET /__mock/requests) for a query. */
async function journal(mock, query) {
  const r = await mock.http('GET', '/__mock/requests', query);
  assert.equal(r.status, 200, r.body);
  return r.json();
}

/** The instance as the registry snapshot has it (null when absent). */
async function snapshotInstance(mock, service, ip, port) {
  const r = await control(mock, 'GET', '/__mock/registry');
  assert.equal(r.status, 200, r.body);
  for (const ns of r.json.namespaces) {
    for (const svc of ns.services) {
      if (ns.namespaceId !== 'public' || svc.name !== service) continue;
      const inst = svc.instances.find(i => i.ip === ip && i.port === port);
      if (inst) return inst;
    }
  }
  return null;
}

async function listHosts(mock, service) {
  const r = await mock.http('GET', '/nacos/v1/ns/instance/list', { serviceName: service });
  assert.equal(r.status, 200, r.body);
  return r.json().hosts;
}

/** Starts a mock and a client that registers one instance; waits until it beats steadily. */
async function setUp(env, service, inst) {
  const mock = await startMock(MOCK_ARGS);
  env.mock = mock;
  const logger = memoryLogger(service);
  env.logger = logger;
  const client = new NacosNamingClient({ logger, serverList: `127.0.0.1:${mock.port}` });
  env.client = client;
  await client.ready();
  await client.registerInstance(service, inst);
  // the first beat comes ~10 s after the client was made, then every 200 ms
  await waitUntil(async () => (await journal(mock, { api: 'beat', serviceName: service, status: 200 })).total >= 3,
    16000, `three successful beats of ${service}`);
  return { mock, client, logger };
}

async function tearDown(env, failure) {
  if (env.client) await env.client.close();
  const code = env.mock ? await env.mock.stop() : 0;
  if (failure) {
    const diag = [];
    if (env.mock) diag.push('--- nacos-mock stderr (tail) ---', ...env.mock.logs().slice(-30));
    if (env.logger) diag.push('--- client warn/error ---', ...env.logger.problems().slice(-10));
    failure.message += `\n${diag.join('\n')}`;
    throw failure;
  }
  assert.equal(code, 0, 'nacos-mock exit code after SIGTERM');
}

async function withEnv(body) {
  const env = {};
  let failure = null;
  try {
    await body(env);
  } catch (err) {
    failure = err;
  }
  await tearDown(env, failure);
}

describe('chaos rehearsal with the npm nacos client', { concurrency: true }, () => {
  test('(a) beats fail with 500 for a while, then recover; the instance stays registered and healthy',
    { timeout: 30000 }, () => withEnv(async env => {
      const service = 'rehearsal-beats';
      const inst = { ip: '10.20.0.1', port: 18080 };
      const { mock, logger } = await setUp(env, service, inst);
      const before = await snapshotInstance(mock, `${service}`, inst.ip, inst.port);
      assert.ok(before, 'registered');
      assert.equal(before.healthy, true);

      const add = await control(mock, 'POST', '/__mock/faults',
        { id: 'beat-500', match: { api: 'beat', serviceName: service }, action: { status: 500 } });
      assert.equal(add.status, 201, add.body);
      const added = Date.now();

      // the client's beats now get the injected 500, named by the rule in the journal
      const failed = await waitUntil(async () => {
        const j = await journal(mock, { api: 'beat', serviceName: service, status: 500 });
        return j.total >= 1 ? j : null;
      }, 3000, 'a beat answered 500');
      for (const e of failed.requests) {
        assert.equal(e.fault, 'beat-500');
        assert.equal(e.method, 'PUT');
        assert.equal(e.path, '/nacos/v1/ns/instance/beat');
        assert.equal(JSON.parse(e.params.beat).ip, inst.ip, 'the client sends its beat body');
      }
      // the client saw the failure
      await waitUntil(() => logger.problems().some(l => /instance\/beat\. code: 500 msg: caused: nacos-mock injected fault 'beat-500'/.test(l)), 2000,
        'the client reporting the failed beat');

      // keep the rule ~1.5 s, then delete it
      await sleep(Math.max(0, 1500 - (Date.now() - added)));
      const listed = await control(mock, 'GET', '/__mock/faults');
      const rule = listed.json.faults.find(f => f.id === 'beat-500');
      assert.ok(rule && rule.hits >= 1, JSON.stringify(listed.json));
      assert.equal(rule.hits, (await journal(mock, { api: 'beat', status: 500 })).total);
      const del = await control(mock, 'DELETE', '/__mock/faults/beat-500');
      assert.equal(del.status, 204, del.body);
      const all = await journal(mock, {});
      const since = Math.max(0, ...all.requests.map(e => e.seq));

      // beats succeed again (the client backs off 5 s after a failure)
      const recovered = await waitUntil(async () => {
        const j = await journal(mock, { api: 'beat', serviceName: service, since });
        return j.requests.filter(e => e.status === 200).length >= 2 ? j : null;
      }, 9000, 'successful beats after the rule was deleted');
      for (const e of recovered.requests) {
        assert.equal(e.status, 200, JSON.stringify(e));
        assert.equal(e.fault, null);
      }

      // never lost: the same registration, healthy, listed
      const after = await snapshotInstance(mock, service, inst.ip, inst.port);
      assert.ok(after, 'still registered');
      assert.equal(after.registeredMs, before.registeredMs, 'not removed and registered again');
      assert.equal(after.healthy, true);
      assert.ok(after.lastBeatMs > before.lastBeatMs);
      const hosts = await listHosts(mock, service);
      assert.equal(hosts.length, 1);
      assert.equal(hosts[0].ip, inst.ip);
      assert.equal(hosts[0].healthy, true);
    }));

  test('(b) POST /__mock/forget: the instance disappears and the client\'s next beat brings it back',
    { timeout: 30000 }, () => withEnv(async env => {
      const service = 'rehearsal-forget';
      const inst = { ip: '10.20.0.2', port: 18081, metadata: { zone: 'a' } };
      const { mock } = await setUp(env, service, inst);
      const before = await snapshotInstance(mock, service, inst.ip, inst.port);
      assert.ok(before, 'registered');
      // a persistent instance next to it, which a restart keeps
      const persistent = await mock.http('POST', '/nacos/v1/ns/instance',
        { serviceName: service, ip: '10.20.0.3', port: '1', ephemeral: 'false' });
      assert.equal(persistent.status, 200, persistent.body);

      const seqs = (await journal(mock, {})).requests.map(e => e.seq);
      const since = Math.max(0, ...seqs);
      const forgotAt = Date.now();
      const r = await control(mock, 'POST', '/__mock/forget');
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.removed, 1, r.body);

      // back within ~3 s, registered anew by a beat (not by a register call) with its metadata
      const back = await waitUntil(async () => {
        const i = await snapshotInstance(mock, service, inst.ip, inst.port);
        return i && i.registeredMs > before.registeredMs ? i : null;
      }, 3000, 'the forgotten instance to come back');
      assert.ok(Date.now() - forgotAt < 3000);
      assert.equal(back.healthy, true);
      assert.equal(back.ephemeral, true);
      assert.deepEqual(back.metadata, inst.metadata);
      const after = await journal(mock, { serviceName: service, since });
      assert.equal(after.requests.filter(e => e.api === 'register').length, 0, JSON.stringify(after.requests));
      assert.ok(after.requests.some(e => e.api === 'beat' && e.status === 200));
      const hosts = await listHosts(mock, service);
      assert.deepEqual(hosts.map(h => h.ip).sort(), [inst.ip, '10.20.0.3']);
      assert.ok(hosts.every(h => h.healthy));
    }));
});
