'use strict';
/*
 * Interop, health: a subscriber using the real npm `nacos` client (NacosNamingClient) is told when
 * another client stops beating. The other client lives in a separate `node` process that registers
 * an instance, beats for a while and is then SIGKILLed, so it never deregisters. The mock runs with
 * 200 ms beats (unhealthy after 600 ms, removed after 1200 ms without a beat) and a 50 ms sweeper.
 *
 * nacos-naming sends its first beat only 10 s after the client is constructed, so both instances
 * flap during the first seconds; the test waits until both clients beat steadily before the kill and
 * only counts what the subscriber sees after it. The subscriber registers an instance of its own,
 * which its client keeps beating: with the default protect threshold (0) a service whose instances
 * are all unhealthy is reported all-healthy, so the killed one would never show as unhealthy alone.
 * Run through tests/interop/run.sh (it sets NACOS_MOCK_BIN).
 */
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { NacosNamingClient } = require('nacos');
const { startMock, waitUntil, memoryLogger } = require('./lib');

const SERVICE = 'health-interop';
const GROUPED = `DEFAULT_GROUP@@${SERVICE}`;
const MINE = { ip: '10.9.0.1', port: 9001 };     // the subscriber's own, beating instance
const OTHER = { ip: '10.9.0.2', port: 9002 };    // the child's instance, orphaned by SIGKILL
const OTHER_ID = `${OTHER.ip}#${OTHER.port}#DEFAULT#${GROUPED}`;

// The child: its own NacosNamingClient registers OTHER and keeps beating until it is killed.
const CHILD_SRC = `
const { NacosNamingClient } = require('nacos');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const client = new NacosNamingClient({ logger: quiet, serverList: '127.0.0.1:' + process.env.MOCK_PORT });
(async () => {
  await client.ready();
  await client.registerInstance(process.env.SERVICE, { ip: process.env.IP, port: Number(process.env.PORT) });
  process.stdout.write('registered\\n');
})().catch(err => { process.stderr.write(String(err && err.stack || err) + '\\n'); process.exit(1); });
`;

const addr = h => `${h.ip}:${h.port}`;

function spawnChild(mock) {
  const env = { ...process.env, MOCK_PORT: String(mock.port), SERVICE, IP: OTHER.ip, PORT: String(OTHER.port) };
  const child = spawn(process.execPath, ['-e', CHILD_SRC], { cwd: __dirname, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  child.stdout.on('data', d => out.push(d.toString()));
  child.stderr.on('data', d => out.push(d.toString()));
  child.exited = new Promise(resolve => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.output = () => out.join('');
  return child;
}

/** Beats the mock's journal recorded for ip:port (the npm client puts them in the `beat` JSON). */
async function beatsOf(mock, { ip, port }) {
  const r = await mock.http('GET', '/__mock/requests', { api: 'beat', serviceName: GROUPED });
  assert.equal(r.status, 200, r.body);
  return r.json().requests.filter(q => {
    try {
      const b = JSON.parse(q.params.beat);
      return b.ip === ip && Number(b.port) === port && q.status === 200;
    } catch (_) {
      return false;
    }
  }).length;
}

test('a client that stops beating turns unhealthy, then disappears, for a subscriber', { timeout: 30000 }, async t => {
  const mock = await startMock(['--beat-interval-ms', '200', '--sweep-interval-ms', '50']);
  let child = null;
  let subscriber = null;
  const events = [];
  const wakers = new Set();
  const logger = memoryLogger('subscriber');
  try {
    child = spawnChild(mock);
    subscriber = new NacosNamingClient({ logger, serverList: `127.0.0.1:${mock.port}` });
    await subscriber.ready();
    subscriber.subscribe({ serviceName: SERVICE }, hosts => {
      events.push({ t: Date.now(), hosts: hosts.map(h => ({ addr: addr(h), healthy: h.healthy })) });
      for (const w of wakers) w();
    });
    await subscriber.registerInstance(SERVICE, MINE);
    await waitUntil(() => child.output().includes('registered'), 5000,
      () => `the child to register; its output: ${child.output()}`);

    // both clients beat steadily (each client's first beat comes ~10 s after its construction)
    const state = e => Object.fromEntries(e.hosts.map(h => [h.addr, h.healthy]));
    await waitUntil(async () => {
      if ((await beatsOf(mock, MINE)) < 3 || (await beatsOf(mock, OTHER)) < 3) return false;
      const last = events[events.length - 1];
      const s = last && state(last);
      return s && s[addr(MINE)] === true && s[addr(OTHER)] === true && last.hosts.length === 2;
    }, 18000, () => `steady beats from both clients; events so far ${JSON.stringify(events.map(e => e.hosts))}`, wakers);

    const pushes = () => logger.lines.filter(l => l.includes('[PushReceiver] received push data')).length;
    const pushesBefore = pushes();
    const logCount = re => mock.logs().filter(l => re.test(l)).length;
    const unhealthyLine = new RegExp(`health HEALTHY -> UNHEALTHY instance=${OTHER_ID.replace(/\./g, '\\.')} `);
    const removedLine = new RegExp(`health UNHEALTHY -> REMOVED instance=${OTHER_ID.replace(/\./g, '\\.')} `);
    const unhealthyLogsBefore = logCount(unhealthyLine);
    const removedLogsBefore = logCount(removedLine);

    const from = events.length;
    const killedAt = Date.now();
    child.kill('SIGKILL');
    const exit = await child.exited;
    assert.equal(exit.signal, 'SIGKILL');

    const after = () => events.slice(from);
    const unhealthy = await waitUntil(() => after().find(e => {
      const s = state(e);
      return s[addr(OTHER)] === false && s[addr(MINE)] === true;
    }), 5000, () => `the killed client's instance reported unhealthy; events since the kill ${JSON.stringify(after().map(e => e.hosts))}`,
    wakers);
    const gone = await waitUntil(() => after().find(e => e.t >= unhealthy.t && e.hosts.length === 1 &&
      e.hosts[0].addr === addr(MINE) && e.hosts[0].healthy === true),
    5000, () => `the killed client's instance gone; events since the kill ${JSON.stringify(after().map(e => e.hosts))}`, wakers);

    const tUnhealthy = unhealthy.t - killedAt;
    const tGone = gone.t - killedAt;
    t.diagnostic(`after the SIGKILL: reported unhealthy at ${tUnhealthy} ms, gone at ${tGone} ms`);
    // last beat <= ~200 ms before the kill; unhealthy > 600 ms and removed > 1200 ms after it
    assert.ok(tUnhealthy >= 300 && tUnhealthy <= 3000, `unhealthy ${tUnhealthy} ms after the kill`);
    assert.ok(tGone >= 900 && tGone <= 4000, `gone ${tGone} ms after the kill`);
    assert.ok(tGone > tUnhealthy);
    // the subscriber's own instance stayed healthy throughout
    for (const e of after()) assert.equal(state(e)[addr(MINE)], true, JSON.stringify(e.hosts));
    // news came by UDP push (the client re-polls only every cacheMillis = 10 s)
    assert.ok(pushes() >= pushesBefore + 2, `pushes received after the kill: ${pushes() - pushesBefore}`);
    // and the mock logged both transitions of the orphaned instance
    assert.ok(logCount(unhealthyLine) > unhealthyLogsBefore, 'stderr: HEALTHY -> UNHEALTHY of the orphan');
    assert.ok(logCount(removedLine) > removedLogsBefore, 'stderr: UNHEALTHY -> REMOVED of the orphan');
    const doc = (await mock.http('GET', '/nacos/v1/ns/instance/list', { serviceName: SERVICE })).json();
    assert.deepEqual(doc.hosts.map(addr), [addr(MINE)]);
    assert.deepEqual(logger.problems(), [], 'subscriber logged warnings/errors');
  } catch (err) {
    err.message += `\n--- nacos-mock stderr (tail) ---\n${mock.logs().slice(-40).join('\n')}` +
      `\n--- subscriber warn/error ---\n${logger.problems().slice(-20).join('\n')}` +
      (child ? `\n--- child output ---\n${child.output()}` : '');
    throw err;
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (subscriber) await subscriber.close();
    const code = await mock.stop();
    assert.equal(code, 0, 'nacos-mock exit code after SIGTERM');
  }
});
