'use strict';
/*
 * Interop: the failover rehearsal (control-api.md "Several nodes") with real clients.
 *
 *  - the npm `nacos` 1.x client given all three addresses of `--nodes 3` keeps registering, beating and
 *    discovering while the nodes go DOWN and OFFLINE one after the other. It picks a random server for
 *    every request and, when one fails (503, refused, reset), tries the next at once (nacos-naming
 *    proxy.js _reqAPI), so a move costs one failed attempt: measured from its own HTTP calls (a
 *    recording httpclient) and reported;
 *  - the Rust 2.x gRPC client (nacos-sdk-rust-binding-node 0.8.0) whose node goes OFFLINE reconnects to
 *    another node by itself and its redo task registers again: the bound is grpc-rust.test.js's (health
 *    check round 5 s + reconnect sleep 2 s + redo period 3 s + slack); a subscriber on a third node sees
 *    the instance disappear and come back. Its node DOWN instead (errorCode 300 to everything): the
 *    client gives up on it at a failed health check and re-registers elsewhere, measured and reported;
 *  - two separate clusters (two nacos-mock processes, primary and backup, sharing nothing): the npm
 *    client given both registers with the backup while the primary is away, and the primary learns its
 *    instances again from its beats once back — also after a restart that forgot them.
 * Run through tests/interop/run.sh (it sets NACOS_MOCK_BIN).
 */
const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const urllib = require('urllib');
const { NacosNamingClient } = require('nacos');
const { withEnv, waitUntil, memoryLogger, connections, journal } = require('./lib');
const { startRustClient } = require('./rust-client');

const HEALTH_CHECK_PERIOD_MS = 5000;   // nacos-sdk-rust FailoverConnection: a health check every 5 s
const RETRY_SLEEP_MS = 2000;           // sleep_time(1) before the first reconnect
const REDO_PERIOD_MS = 3000;           // RedoTaskExecutor: every 3 s
const SLACK_MS = 2000;                 // handshakes on a loaded, shared 2-core machine
const RUST_REDO_BOUND_MS = HEALTH_CHECK_PERIOD_MS + RETRY_SLEEP_MS + REDO_PERIOD_MS + SLACK_MS;
// DOWN: up to one round to see errorCode 300, its init retries health checks 3 times (0.6 + 1.2 + 2.4 s)
// on a node that answers 300 before it tries the next server, then the reconnect and the redo
const RUST_DOWN_BOUND_MS = 2 * HEALTH_CHECK_PERIOD_MS + 4200 + RETRY_SLEEP_MS + REDO_PERIOD_MS + SLACK_MS;

// beats every 500 ms, but an instance stays healthy 20 s without one: nacos-naming beats first 10 s after
// it starts, whatever the interval
const FAST_BEATS = ['--beat-interval-ms', '500', '--unhealthy-misses', '40', '--delete-misses', '80'];

const addr = h => `${h.ip}:${h.port}`;
const addrs = hosts => hosts.map(addr).sort();
const has = (p, a) => p.instances.some(h => addr(h) === a);
const median = v => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

/** An httpclient for nacos-naming that records every request it makes: {url, t0, t1, status | error}. */
function recordingHttpclient() {
  const calls = [];
  return {
    calls,
    async request(url, opts) {
      const t0 = Date.now();
      try {
        const r = await urllib.request(url, opts);
        calls.push({ url, t0, t1: Date.now(), status: r.status });
        return r;
      } catch (err) {
        calls.push({ url, t0, t1: Date.now(), error: err.code || err.name });
        throw err;
      }
    },
  };
}

/**
 * The client's moves: a failed call followed by the same API's next call, answered 200 by another
 * server (nacos-naming retries at once) — the time from the failed call's start to that answer.
 */
function moves(calls) {
  const out = [];
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i];
    if (c.status === 200) continue;
    const api = new URL(c.url).pathname, host = new URL(c.url).host;
    const next = calls.slice(i + 1).find(x => new URL(x.url).pathname === api && x.t0 >= c.t1 - 1);
    if (next && next.status === 200 && new URL(next.url).host !== host)
      out.push({ ms: next.t1 - c.t0, why: c.error || c.status });
  }
  return out;
}

async function nacosClient(env, serverList, httpclient) {
  const logger = memoryLogger('nacos');
  const c = new NacosNamingClient({ logger, serverList, namespace: 'public', httpclient });
  env.track(c, () => c.close(), () => ['--- nacos client warn/error ---', ...logger.problems().slice(-20)]);
  await c.ready();
  return c;
}

async function setNode(via, i, body) {
  const r = await via.control('PUT', `/__mock/nodes/${i}`, body);
  assert.equal(r.status, 200, `PUT /__mock/nodes/${i} ${JSON.stringify(body)} -> ${r.status} ${r.body}`);
  return r.json;
}

/** A view of the mock through node i (its own port): http, control, as a mock object has them. */
function nodeView(mock, node) {
  const { request, controlRequest } = require('./lib');
  return {
    url: node.url,
    http: (m, p, f, h) => request(node.url, m, p, f, h),
    control: (m, p, b) => controlRequest(node.url, m, p, b),
  };
}

/** The registry's instances of `service` (default group), from GET /__mock/registry on `view`. */
async function registryHosts(view, service) {
  const r = await view.control('GET', '/__mock/registry');
  const out = [];
  for (const ns of r.json.namespaces) {
    for (const s of ns.services) if (s.name === `DEFAULT_GROUP@@${service}` || s.name === service) out.push(...s.instances);
  }
  return out;
}

describe('failover rehearsal: --nodes 3 and primary/backup clusters with real clients', { concurrency: true }, () => {
  test('npm nacos given three addresses keeps registering, beating and discovering while nodes go DOWN and OFFLINE',
    { timeout: 60000 }, t =>
      withEnv(async env => {
        // beats every 500 ms once the client has heard that interval; its first beat comes 10 s after it
        // starts (nacos-naming's BeatReactor sleeps 10 s before asking), hence the long health timeouts
        const mock = await env.mock(['--nodes', '3', ...FAST_BEATS]);
        const lines = mock.stdout();
        const nodes = await mock.nodes();
        assert.equal(nodes.length, 3);
        await waitUntil(() => mock.stdout().length >= 3, 2000, 'the three listening lines');
        assert.deepEqual(mock.stdout(), [`nacos-mock listening on ${nodes[0].url}`,
          `nacos-mock listening on ${nodes[1].url} (node 1)`, `nacos-mock listening on ${nodes[2].url} (node 2)`],
        `listening lines (first seen: ${JSON.stringify(lines)})`);
        const views = nodes.map(n => nodeView(mock, n));
        const rec = recordingHttpclient();
        const client = await nacosClient(env, nodes.map(n => `127.0.0.1:${n.port}`).join(','), rec);

        const pushes = [];
        client.subscribe('fo', hosts => pushes.push(addrs(hosts)));
        const registered = [];
        const register = async k => {
          const inst = { ip: `10.9.0.${k}`, port: 8000 + k };
          await client.registerInstance('fo', inst);   // resolves only when a server said ok
          registered.push(addr(inst));
        };
        await register(1);
        await waitUntil(async () => (await journal(mock, { api: 'beat', status: '200' })).length > 0, 15000, 'its first beat');

        // one node after the other; the control plane is asked through a node that stays
        const phases = [[0, 'DOWN'], [1, 'OFFLINE'], [2, 'DOWN'], [0, 'OFFLINE'], [1, 'DOWN'], [2, 'OFFLINE']];
        let k = 2;
        for (const [bad, status] of phases) {
          const via = views[(bad + 1) % 3];
          const since = (await journal(via, { limit: 1 }))[0].seq;
          await setNode(via, bad, { status });
          if (status === 'OFFLINE') {
            await waitUntil(async () => !(await via.control('GET', `/__mock/nodes/${bad}`)).json.listening, 5000,
              `node ${bad} closed`);
          }
          const closed = (await journal(via, { limit: 1 }))[0].seq;
          await register(k++);   // registering: a new instance
          // discovering: straight from a server (not the cache), every instance registered so far
          assert.deepEqual(addrs(await client.getAllInstances('fo', 'DEFAULT_GROUP', '', false)), [...registered].sort());
          // beating: each instance's beats acknowledged by the other nodes, two rounds at least
          await waitUntil(async () => {
            const beats = (await journal(via, { api: 'beat', status: '200', since: String(since) }));
            return registered.every(a => beats.filter(b => `${b.params.beat && JSON.parse(b.params.beat).ip}:${
              b.params.beat && JSON.parse(b.params.beat).port}` === a && b.node !== bad).length >= 2);
          }, 10000, `every instance beating while node ${bad} is ${status}`);
          // nothing reached the node that is away, after it was (OFFLINE: nothing at all)
          if (status === 'OFFLINE') {
            const onBad = await journal(via, { node: String(bad), since: String(closed) });
            assert.deepEqual(onBad, [], `node ${bad} heard nothing once closed`);
          }
          const reg = await registryHosts(via, 'fo');
          assert.ok(reg.every(i => i.healthy), `all healthy while node ${bad} is ${status}`);
          await setNode(via, bad, { status: 'UP' });
        }
        assert.deepEqual(addrs(await client.getAllInstances('fo', 'DEFAULT_GROUP', '', false)), [...registered].sort());
        await waitUntil(() => pushes.length && pushes[pushes.length - 1].length === registered.length, 10000,
          'the subscriber (UDP push and polling) saw every instance');

        const m = moves(rec.calls);
        const failed = rec.calls.filter(c => c.status !== 200);
        const kinds = {};
        for (const c of failed) kinds[c.error || c.status] = (kinds[c.error || c.status] || 0) + 1;
        const ok = rec.calls.filter(c => c.status === 200).map(c => c.t1 - c.t0);
        t.diagnostic(`npm nacos: ${rec.calls.length} requests, ${failed.length} failed (${JSON.stringify(kinds)}); ` +
          `${m.length} moves to another node: median ${median(m.map(x => x.ms))} ms, max ${Math.max(...m.map(x => x.ms))} ms ` +
          `(a request answered at once: median ${median(ok)} ms)`);
        assert.ok(failed.length > 0, 'the client did meet a node that was away');
        assert.ok(m.length > 0, 'and moved on');   // (times are reported, not asserted: the machine may be loaded)
      }));

  /** A Rust publisher given the three addresses, and a subscriber given only another node's: both set up. */
  async function rustPair(env, mock, tag) {
    const nodes = await mock.nodes();
    const pub = await startRustClient(nodes.map(n => `127.0.0.1:${n.port}`).join(','), { appName: `${tag}-pub` });
    env.track(pub, () => pub.kill(), () => [`--- rust pub ${pub.pid} ---`, pub.output()]);
    const P = (await connections(mock)).find(c => c.labels.AppName === `${tag}-pub`).node, X = (P + 1) % 3;
    const sub = await startRustClient(`127.0.0.1:${nodes[X].port}`, { appName: `${tag}-sub`, namingPushEmptyProtection: false });
    env.track(sub, () => sub.kill(), () => [`--- rust sub ${sub.pid} pushes ---`, JSON.stringify(sub.pushes)]);
    await sub.subscribe(tag, 'G', null);
    await pub.call('registerInstance', tag, 'G', { ip: '10.9.1.1', port: 1 });
    await sub.waitForPush(x => has(x, '10.9.1.1:1'));
    return { pub, sub, P, via: nodeView(mock, nodes[X]) };
  }

  test('Rust gRPC: its node OFFLINE, it reconnects elsewhere and redoes; a subscriber on a third node sees the instance go and come back',
    { timeout: 60000 }, t =>
      withEnv(async env => {
        const mock = await env.mock(['--nodes', '3']);
        const { sub, P, via } = await rustPair(env, mock, 'fo-off');
        // OFFLINE: connection refused on its node, the connection cut, its instance gone
        let from = sub.pushes.length;
        const t0 = Date.now();
        await setNode(via, P, { status: 'OFFLINE' });
        const gone = await sub.waitForPush(x => x.instances.length === 0, 5000, from);
        from = sub.pushes.length;
        const back = await sub.waitForPush(x => has(x, '10.9.1.1:1'), RUST_REDO_BOUND_MS + 3000, from);
        const moved = (await connections(via)).find(c => c.labels.AppName === 'fo-off-pub' && c.instances === 1);
        assert.ok(moved && moved.node !== P, `re-registered over a connection to another node: ${JSON.stringify(moved)}`);
        const ms = back.timeMs - t0;
        t.diagnostic(`rust OFFLINE: instance gone for the subscriber after ${gone.timeMs - t0} ms; registered again on ` +
          `node ${moved.node} (was ${P}) and pushed ${ms} ms after its node went OFFLINE (bound ${RUST_REDO_BOUND_MS} ms)`);
        assert.ok(ms <= RUST_REDO_BOUND_MS, `the move took ${ms} ms`);
      }));

  test('Rust gRPC: its node DOWN (errorCode 300 to every request), it re-registers on another node', { timeout: 60000 }, t =>
    withEnv(async env => {
      const mock = await env.mock(['--nodes', '3']);
      const { sub, P, via } = await rustPair(env, mock, 'fo-down');
      const from = sub.pushes.length;
      const t1 = Date.now();
      await setNode(via, P, { status: 'DOWN' });
      const again = await waitUntil(async () => (await connections(via))
        .find(c => c.labels.AppName === 'fo-down-pub' && c.node !== P && c.instances === 1), RUST_DOWN_BOUND_MS + 3000,
      'the Rust client registered on a node that is not DOWN');
      const ms = Date.now() - t1;
      const lingering = (await connections(via)).filter(c => c.labels.AppName === 'fo-down-pub' && c.node === P);
      t.diagnostic(`rust DOWN: registered on node ${again.node} ${ms} ms after node ${P} went DOWN (bound ` +
        `${RUST_DOWN_BOUND_MS} ms); subscriber pushes meanwhile ${JSON.stringify(sub.pushes.slice(from).map(p => p.instances.length))}; ` +
        `connections it left open on the DOWN node: ${lingering.length}`);
      assert.ok(ms <= RUST_DOWN_BOUND_MS, `the move took ${ms} ms`);
      assert.deepEqual(addrs(await registryHosts(via, 'fo-down')), ['10.9.1.1:1']);
    }));

  test('primary and backup clusters (two processes): npm nacos registers with the backup while the primary is away, and comes back',
    { timeout: 60000 }, t =>
      withEnv(async env => {
        const primary = await env.mock(FAST_BEATS);
        const backup = await env.mock(FAST_BEATS);
        const client = await nacosClient(env, `127.0.0.1:${primary.port},127.0.0.1:${backup.port}`, recordingHttpclient());
        const on = async (mock, service) => addrs(await registryHosts(mock, service));
        await client.registerInstance('pb', { ip: '10.9.2.1', port: 1 });
        // its beats (with the beat JSON: registering where unknown) soon make it known to both clusters
        await waitUntil(async () => (await on(primary, 'pb')).length === 1 && (await on(backup, 'pb')).length === 1, 25000,
          'the instance known to both clusters (its first beat comes 10 s after the client starts)');

        // the primary DOWN (its control plane stays): a register goes to the backup
        assert.equal((await primary.control('PUT', '/__mock/status', { status: 'DOWN' })).status, 200);
        await client.registerInstance('pb', { ip: '10.9.2.2', port: 2 });
        assert.deepEqual(await on(backup, 'pb'), ['10.9.2.1:1', '10.9.2.2:2']);
        assert.deepEqual(addrs(await client.getAllInstances('pb', 'DEFAULT_GROUP', '', false)), ['10.9.2.1:1', '10.9.2.2:2']);
        assert.equal((await primary.control('PUT', '/__mock/status', { status: 'UP' })).status, 200);
        await waitUntil(async () => (await on(primary, 'pb')).length === 2, 10000, 'the primary learnt the backup-time instance');

        // the primary OFFLINE for 3 s (refused), then back having forgotten everything, as a restart
        await setNode(primary, 0, { status: 'OFFLINE', forMs: 3000 });
        await client.registerInstance('pb', { ip: '10.9.2.3', port: 3 });
        assert.deepEqual(await on(backup, 'pb'), ['10.9.2.1:1', '10.9.2.2:2', '10.9.2.3:3']);
        await waitUntil(async () => {
          try { return (await primary.control('GET', '/__mock/nodes/0')).status === 200; } catch (_) { return false; }
        }, 10000, 'the primary back');
        const forgot = await primary.control('POST', '/__mock/forget');
        t.diagnostic(`primary back; forget removed ${forgot.json.removed}`);
        const t0 = Date.now();
        await waitUntil(async () => (await on(primary, 'pb')).length === 3, 10000, 'the primary knows every instance again');
        t.diagnostic(`primary/backup: the restarted primary knew all 3 instances again ${Date.now() - t0} ms after forgetting them`);
        assert.deepEqual(await on(primary, 'pb'), ['10.9.2.1:1', '10.9.2.2:2', '10.9.2.3:3']);
      }));
});
