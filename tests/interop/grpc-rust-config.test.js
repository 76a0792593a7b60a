'use strict';
/*
 * Interop, config center over gRPC (config-api.md §3): the real Rust 2.x client's NacosConfigClient
 * (npm nacos-sdk-rust-binding-node 0.8.0) against nacos-mock started with nothing but --port 0; the
 * client is given "127.0.0.1:PORT" and dials PORT + 1000 itself (in a child process: rust-client.js).
 *
 *  (a) getConfig of an absent config fails with the contract's errorCode 300; publishConfig, then
 *      getConfig / getConfigResp (content, md5, type) — the same config a plain v1 GET sees; remove.
 *  (b) addListener: the listener is told of a change made over HTTP v1 (one config store, one change
 *      notification for both generations) and of one made by another gRPC client; the listener
 *      belongs to its connection, and goes when the client does.
 *  (c) config.get faulted with a grpc-status: the client's getConfig fails; it answers again once the
 *      rule is spent.
 * Run through tests/interop/run.sh (it sets NACOS_MOCK_BIN).
 */
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { withEnv, waitUntil, metric } = require('./lib');
const { startRustClient } = require('./rust-client');

const md5 = s => crypto.createHash('md5').update(s, 'utf8').digest('hex');

async function configClient(env, mock) {
  const c = await startRustClient(`127.0.0.1:${mock.port}`, { kind: 'config' });
  env.track(c, () => c.kill(), () => [`--- rust config client ${c.pid} pushes ---`, JSON.stringify(c.pushes), c.output()]);
  return c;
}

describe('Rust NacosConfigClient (gRPC) against nacos-mock', { concurrency: true }, () => {
  test('get, publish, getConfigResp, one store with v1, remove', { timeout: 25000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const c = await configClient(env, mock);
      await assert.rejects(c.call('getConfig', 'app.yaml', 'DEFAULT_GROUP'), /error_code=300/);
      assert.equal(await c.call('publishConfig', 'app.yaml', 'DEFAULT_GROUP', 'server:\n  port: 8080\n'), true);
      assert.equal(await c.call('getConfig', 'app.yaml', 'DEFAULT_GROUP'), 'server:\n  port: 8080\n');
      const resp = await c.call('getConfigResp', 'app.yaml', 'DEFAULT_GROUP');
      assert.equal(resp.md5, md5('server:\n  port: 8080\n'));
      assert.equal(resp.contentType, 'text');
      const v1 = await mock.http('GET', '/nacos/v1/cs/configs', { dataId: 'app.yaml', group: 'DEFAULT_GROUP' });
      assert.equal(v1.status, 200);
      assert.equal(v1.body, 'server:\n  port: 8080\n');
      const j = await mock.control('GET', '/__mock/requests?transport=grpc&api=config.publish');
      assert.equal(j.json.requests[0].path, 'ConfigPublishRequest');
      assert.equal(await c.call('removeConfig', 'app.yaml', 'DEFAULT_GROUP'), true);
      assert.equal((await mock.http('GET', '/nacos/v1/cs/configs', { dataId: 'app.yaml', group: 'DEFAULT_GROUP' })).status, 404);
    }));

  test('addListener: told of changes made over HTTP and by another gRPC client', { timeout: 25000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      await mock.http('POST', '/nacos/v1/cs/configs', { dataId: 'db.yaml', group: 'DEFAULT_GROUP', content: 'v: 1' });
      const listener = await configClient(env, mock);
      const writer = await configClient(env, mock);
      await listener.addListener('db.yaml', 'DEFAULT_GROUP');
      await waitUntil(async () => (await metric(mock, 'nacos_mock_config_listeners{transport="grpc"}')) >= 1, 10000,
        () => 'the listener registered on the server');
      const r = await mock.http('POST', '/nacos/v1/cs/configs', { dataId: 'db.yaml', group: 'DEFAULT_GROUP', content: 'v: 2' });
      assert.equal(r.status, 200);
      const p1 = await listener.waitForPush(p => p.config && p.config.content === 'v: 2', 10000);
      assert.equal(p1.config.md5, md5('v: 2'));
      assert.equal(await writer.call('publishConfig', 'db.yaml', 'DEFAULT_GROUP', 'v: 3'), true);
      await listener.waitForPush(p => p.config && p.config.content === 'v: 3', 10000);
      await listener.kill();
      await waitUntil(async () => (await metric(mock, 'nacos_mock_config_listeners{transport="grpc"}')) === 0, 10000,
        () => 'the killed client\'s listener gone with its connection');
    }));

  test('config.get faulted with grpc-status 14: the client fails, then answers once the rule is spent', { timeout: 25000 }, () =>
    withEnv(async env => {
      const mock = await env.mock();
      const c = await configClient(env, mock);
      assert.equal(await c.call('publishConfig', 'f.yaml', 'DEFAULT_GROUP', 'x'), true);
      const rule = await mock.control('POST', '/__mock/faults',
        { match: { api: 'config.get', dataId: 'f.yaml' }, action: { grpcStatus: 14 }, times: 1 });
      assert.equal(rule.status, 201);
      await assert.rejects(c.call('getConfig', 'f.yaml', 'DEFAULT_GROUP'));
      assert.equal(await c.call('getConfig', 'f.yaml', 'DEFAULT_GROUP'), 'x');
    }));
});
