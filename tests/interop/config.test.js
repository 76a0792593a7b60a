'use strict';
/*
 * Interop, config center (config-api.md §1): the real npm `nacos` client's NacosConfigClient
 * (nacos-config 2.6.3, HTTP v1) against nacos-mock.
 *
 *  (a) getConfig of a fixture config and of an absent one (null); publishSingle, seen by a plain GET
 *      and in the journal with the client's parameters; remove.
 *  (b) subscribe: the listener gets the content at once, the client's long poll is held by the mock
 *      (it waits on /__mock/metrics until it is), a publish from elsewhere reaches the listener
 *      within moments, and so does a removal (content null).
 *  (c) a namespace: the client's tenant isolates its configs and its listener.
 *  (d) config.get faulted: with 500 twice the client retries through; with 500 for good it falls
 *      back to its local snapshot (and reports the error); a slow get at start-up still answers.
 *
 * Client facts that shape the test: its long poll says Long-Pulling-Timeout: 30000 (held 29.5 s);
 * a failed request is retried against the server list until `requestTimeout` has passed, then
 * getConfig answers from its snapshot under `cacheDir` when it has one. NacosConfigClient wraps
 * its DataClient in cluster-client, whose leader election binds 127.0.0.1:7777 — a fixed port every
 * process on the machine shares; the tests pass `cluster`, a factory that makes the DataClient in
 * this process (what the leader would do), so nothing but the mock's port 0 is used.
 * Run through tests/interop/run.sh (it sets NACOS_MOCK_BIN).
 */
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { NacosConfigClient } = require('nacos');
const { startMock, waitUntil, memoryLogger } = require('./lib');

/** cluster-client's wrapper, minus the leader socket: the DataClient made here, in process. */
const inProcess = DataClient => ({ delegate() { return this; }, create: options => new DataClient(options) });

function newClient(env, mock, opts = {}) {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nacos-mock-interop-config-'));
  const client = new NacosConfigClient({
    serverAddr: `127.0.0.1:${mock.port}`, cacheDir, requestTimeout: 3000, cluster: inProcess, ...opts,
  });
  const errors = [];
  client.on('error', err => errors.push(err));
  env.clients.push({ client, cacheDir });
  return { client, errors, cacheDir };
}

/* Closing a client does not stop a long poll it has in flight, and one that meets a stopped server
 * is retried for its 40 s timeout: so wait until each subscriber's poll is held by the mock, whose
 * clean stop answers them (empty); their loops then see the client closed and end. */
async function tearDown(env) {
  for (const { client } of env.clients) client.close();
  if (env.mock && env.subscribers) {
    await waitUntil(async () => (await metric(env.mock, HELD)) >= env.subscribers, 5000, 'the held polls')
      .catch(() => {});
  }
  if (env.mock) await env.mock.stop();
  for (const { cacheDir } of env.clients) fs.rmSync(cacheDir, { recursive: true, force: true });
  if (env.fixtures) fs.rmSync(env.fixtures, { force: true });
}

async function metric(mock, series) {
  const r = await mock.http('GET', '/__mock/metrics');
  const line = r.body.split('\n').find(l => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : NaN;
}

const HELD = 'nacos_mock_config_listeners{transport="http"}';

async function journal(mock, query) {
  const r = await mock.http('GET', '/__mock/requests', query);
  assert.equal(r.status, 200, r.body);
  return r.json().requests;
}

/** A JSON body to the control plane. */
function controlJson(mock, method, pathname, obj) {
  const http = require('node:http');
  const url = new URL(pathname, mock.url);
  assert.equal(url.hostname, '127.0.0.1');
  const body = Buffer.from(JSON.stringify(obj));
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
      agent: false, timeout: 5000 }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('NacosConfigClient (HTTP) against nacos-mock', { concurrency: true }, () => {
  test('getConfig, publishSingle and remove', { timeout: 20000 }, async t => {
    const env = { clients: [] };
    t.after(() => tearDown(env));
    env.fixtures = path.join(os.tmpdir(), `nacos-mock-interop-fixtures-${process.pid}.json`);
    fs.writeFileSync(env.fixtures, JSON.stringify({ configs: [
      { dataId: 'app.yaml', group: 'DEFAULT_GROUP', content: 'server:\n  port: 8080\n', type: 'yaml' }] }));
    env.mock = await startMock(['--fixtures', env.fixtures]);
    const { client } = newClient(env, env.mock, { appName: 'interop-app' });
    await client.ready();

    assert.equal(await client.getConfig('app.yaml', 'DEFAULT_GROUP'), 'server:\n  port: 8080\n');
    assert.equal(await client.getConfig('absent.yaml', 'DEFAULT_GROUP'), null);

    const content = 'feature.x=on\nname=中文 and spaces \n';
    assert.equal(await client.publishSingle('flags.properties', 'DEFAULT_GROUP', content, { type: 'properties' }), true);
    const r = await env.mock.http('GET', '/nacos/v1/cs/configs', { dataId: 'flags.properties', group: 'DEFAULT_GROUP' });
    assert.equal(r.status, 200);
    assert.equal(r.body, content, 'stored byte-exact, trailing space and newline kept');
    assert.equal(r.headers['config-type'], 'properties');
    const [pub] = await journal(env.mock, { api: 'config.publish', limit: 1 });
    assert.equal(pub.params.appName, 'interop-app');
    assert.equal(pub.params.type, 'properties');
    assert.equal(pub.status, 200);

    assert.equal(await client.getConfig('flags.properties', 'DEFAULT_GROUP'), content);
    assert.equal(await client.remove('flags.properties', 'DEFAULT_GROUP'), true);
    assert.equal(await client.getConfig('flags.properties', 'DEFAULT_GROUP'), null);
    const [rm] = await journal(env.mock, { api: 'config.remove', limit: 1 });
    assert.equal(rm.method, 'DELETE');
    assert.equal(rm.params.dataId, 'flags.properties');
  });

  test('subscribe: the change callback fires on publish and on remove', { timeout: 20000 }, async t => {
    const env = { clients: [] };
    t.after(() => tearDown(env));
    env.mock = await startMock();
    const writer = newClient(env, env.mock).client;
    const reader = newClient(env, env.mock).client;
    await writer.publishSingle('live.json', 'DEFAULT_GROUP', '{"v":1}', { type: 'json' });
    const seen = [];
    env.subscribers = 1;
    reader.subscribe({ dataId: 'live.json', group: 'DEFAULT_GROUP' }, content => seen.push(content));
    await waitUntil(() => seen.length === 1, 5000, () => `the first callback; got ${JSON.stringify(seen)}`);
    assert.equal(seen[0], '{"v":1}');
    // the client's long poll is held by the mock (no worker busy), then a change answers it
    await waitUntil(async () => (await metric(env.mock, HELD)) === 1, 5000, 'a held long poll');
    const t0 = Date.now();
    await writer.publishSingle('live.json', 'DEFAULT_GROUP', '{"v":2}', { type: 'json' });
    await waitUntil(() => seen.length === 2, 5000, () => `the change callback; got ${JSON.stringify(seen)}`);
    assert.equal(seen[1], '{"v":2}');
    assert.ok(Date.now() - t0 < 3000, 'answered within moments, not at the 29.5 s deadline');
    const polls = await journal(env.mock, { api: 'config.listen' });
    assert.ok(polls.length >= 1);
    assert.match(polls[polls.length - 1].params['Listening-Configs'], /^live\.json\u0002DEFAULT_GROUP\u0002[0-9a-f]{32}\u0001$/);

    // the same content again: no change, no callback; a removal: the callback with null
    await waitUntil(async () => (await metric(env.mock, HELD)) === 1, 5000, 'the poll held again');
    await writer.publishSingle('live.json', 'DEFAULT_GROUP', '{"v":2}', { type: 'json' });
    await writer.remove('live.json', 'DEFAULT_GROUP');
    await waitUntil(() => seen.length === 3, 5000, () => `the removal callback; got ${JSON.stringify(seen)}`);
    assert.equal(seen[2], null);
  });

  test('a namespace isolates configs and listeners', { timeout: 20000 }, async t => {
    const env = { clients: [] };
    t.after(() => tearDown(env));
    env.mock = await startMock();
    const dev = newClient(env, env.mock, { namespace: 'dev' }).client;
    const pub = newClient(env, env.mock).client;
    await dev.publishSingle('db.properties', 'APP', 'url=dev');
    await pub.publishSingle('db.properties', 'APP', 'url=public');
    assert.equal(await dev.getConfig('db.properties', 'APP'), 'url=dev');
    assert.equal(await pub.getConfig('db.properties', 'APP'), 'url=public');
    const r = await env.mock.http('GET', '/nacos/v1/cs/configs', { dataId: 'db.properties', group: 'APP', tenant: 'dev' });
    assert.equal(r.body, 'url=dev');
    const seen = [];
    env.subscribers = 1;
    dev.subscribe({ dataId: 'db.properties', group: 'APP' }, c => seen.push(c));
    await waitUntil(() => seen.length === 1, 5000, 'the first callback');
    await waitUntil(async () => (await metric(env.mock, HELD)) === 1, 5000, 'a held long poll');
    await pub.publishSingle('db.properties', 'APP', 'url=public2');   // another namespace: not a change for dev
    await dev.publishSingle('db.properties', 'APP', 'url=dev2');
    await waitUntil(() => seen.length === 2, 5000, () => `the change callback; got ${JSON.stringify(seen)}`);
    assert.deepEqual(seen, ['url=dev', 'url=dev2']);
    const [poll] = await journal(env.mock, { api: 'config.listen', limit: 1 });
    assert.equal(poll.params.tenant, 'dev');
    assert.match(poll.params['Listening-Configs'], /\u0002dev\u0001$/);
  });

  test('config.get faulted: retried through, then served from the client snapshot; slow start-up', { timeout: 30000 },
    async t => {
      const env = { clients: [] };
      t.after(() => tearDown(env));
      env.mock = await startMock();
      const { client, errors } = newClient(env, env.mock, { requestTimeout: 1500 });
      await client.publishSingle('app.yaml', 'DEFAULT_GROUP', 'v: 1');
      // two 500s: the client retries (its server list is this one mock) and gets the config
      assert.equal((await controlJson(env.mock, 'POST', '/__mock/faults',
        { match: { api: 'config.get', dataId: 'app.yaml' }, action: { status: 500 }, times: 2 })).status, 201);
      assert.equal(await client.getConfig('app.yaml', 'DEFAULT_GROUP'), 'v: 1');
      const tries = await journal(env.mock, { api: 'config.get' });
      assert.deepEqual(tries.map(e => e.status), [500, 500, 200]);

      // 500 for good: after requestTimeout the client answers from the snapshot the last get saved
      assert.equal((await controlJson(env.mock, 'POST', '/__mock/faults',
        { id: 'config-down', match: { api: 'config.get' }, action: { status: 500 } })).status, 201);
      await env.mock.http('POST', '/nacos/v1/cs/configs', { dataId: 'app.yaml', group: 'DEFAULT_GROUP', content: 'v: 2' });
      assert.equal(await client.getConfig('app.yaml', 'DEFAULT_GROUP'), 'v: 1', 'the local snapshot, not the server');
      await waitUntil(() => errors.length >= 1, 2000, 'the error the client reports');
      assert.match(String(errors[0].message), /500/);
      // and with no snapshot of that config it fails
      await assert.rejects(client.getConfig('never-fetched.yaml', 'DEFAULT_GROUP'), /500/);
      assert.equal((await env.mock.http('DELETE', '/__mock/faults/config-down')).status, 204);

      // a slow get at start-up (3 s here, under a 5 s timeout): answered, late
      const slow = newClient(env, env.mock, { requestTimeout: 5000 }).client;
      assert.equal((await controlJson(env.mock, 'POST', '/__mock/faults',
        { match: { api: 'config.get' }, action: { delayMs: 1500 }, times: 1 })).status, 201);
      const t0 = Date.now();
      assert.equal(await slow.getConfig('app.yaml', 'DEFAULT_GROUP'), 'v: 2');
      assert.ok(Date.now() - t0 >= 1400, `answered after the delay (${Date.now() - t0} ms)`);
    });
});
