#!/usr/bin/env node
'use strict';
/*
 * node-client.js — a real Nacos client (the npm `nacos` package) against nacos-mock.
 *
 * The client registers an instance of "catalog" (and keeps it alive with heartbeats), subscribes to the
 * service and prints every change it is told about. Meanwhile a second instance comes and goes through
 * plain HTTP, and the virtual clock makes it miss its heartbeats. Changes reach the client by UDP push
 * (nacos-mock pushes to 127.0.0.1, where the request came from) and by its periodic refresh.
 *
 * Run: node examples/node-client.js
 * Needs: Node.js >= 18 and the `nacos` package, from tests/interop/node_modules (cd tests/interop && npm ci)
 * or from NODE_PATH. Binary: $NACOS_MOCK_BIN, else build/nacos-mock, else build-release/nacos-mock.
 * Exits non-zero if an expected change does not arrive within 15 s.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');

const repo = path.resolve(__dirname, '..');

function loadNacos() {
  try {
    return require(path.join(repo, 'tests', 'interop', 'node_modules', 'nacos'));
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
  }
  try {
    return require('nacos');   // NODE_PATH or a node_modules above the working directory
  } catch (err) {
    console.error('node-client.js: the npm package "nacos" is missing: run (cd tests/interop && npm ci)');
    process.exit(2);
  }
}
const { NacosNamingClient } = loadNacos();

function mockBin() {
  const candidates = [process.env.NACOS_MOCK_BIN, path.join(repo, 'build', 'nacos-mock'),
    path.join(repo, 'build-release', 'nacos-mock')].filter(Boolean);
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return path.resolve(c);
    } catch { /* next */ }
  }
  console.error('node-client.js: no nacos-mock binary: set NACOS_MOCK_BIN or run scripts/build-release.sh');
  process.exit(2);
}

/** Starts nacos-mock on 127.0.0.1 with --port 0; resolves {url, port, stop()} once it printed its URL. */
function startMock() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NACOS_MOCK_')));
  const child = spawn(mockBin(), ['--host', '127.0.0.1', '--port', '0', '--quiet'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];   // its stderr, printed only when something fails
  readline.createInterface({ input: child.stderr }).on('line', l => log.push(l));
  const exited = new Promise(resolve => child.on('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('nacos-mock did not start in 10 s')); }, 10000);
    child.on('error', err => { clearTimeout(timer); reject(err); });
    readline.createInterface({ input: child.stdout }).once('line', line => {
      clearTimeout(timer);
      const m = /^nacos-mock listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
      if (!m) { child.kill('SIGKILL'); reject(new Error(`unexpected line from nacos-mock: ${line}`)); return; }
      child.stdout.resume();
      resolve({ url: m[1], port: Number(m[2]), stop, log });
    });
  });
}

/** One plain HTTP call to the mock (127.0.0.1 only); form goes to the query (GET/DELETE) or the body. */
function call(base, method, pathname, form = {}, json) {
  const url = new URL(pathname, base);
  if (url.hostname !== '127.0.0.1') throw new Error(`refusing ${url}`);
  let body = null;
  const headers = {};
  if (json !== undefined) {
    body = Buffer.from(JSON.stringify(json));
    headers['Content-Type'] = 'application/json';
  } else if (method === 'GET' || method === 'DELETE') {
    url.search = new URLSearchParams(form).toString();
  } else {
    body = Buffer.from(new URLSearchParams(form).toString());
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  if (body) headers['Content-Length'] = body.length;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: 5000 }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', c => { text += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${method} ${pathname}: HTTP ${res.statusCode} ${text}`));
        else resolve(text);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${pathname}`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** The client's own log, kept quiet (NACOS_EXAMPLE_VERBOSE=1 prints it). */
const quietLogger = (() => {
  const verbose = process.env.NACOS_EXAMPLE_VERBOSE === '1';
  const f = level => (...a) => { if (verbose) console.error(`  [nacos ${level}]`, ...a); };
  return { debug: f('debug'), info: f('info'), warn: f('warn'), error: f('error') };
})();

const fmt = hosts => (hosts.length === 0 ? '(none)' : hosts
  .map(h => `${h.ip}:${h.port}${h.healthy ? '' : ' UNHEALTHY'}`).sort().join(', '));

async function main() {
  const mock = await startMock();
  console.log(`started nacos-mock: ${mock.url}`);
  let client = null;
  try {
    client = new NacosNamingClient({ logger: quietLogger, serverList: `127.0.0.1:${mock.port}`, namespace: 'public' });
    await client.ready();

    // Every change the client is told about goes through this listener.
    const seen = [];
    const waiters = new Set();
    client.subscribe('catalog', hosts => {
      console.log(`  [subscriber] catalog is now: ${fmt(hosts)}`);
      seen.push(hosts);
      for (const w of waiters) w();
    });
    /** Resolves once the latest list seen by the subscriber satisfies pred; fails after 15 s. */
    const expectChange = (what, pred) => new Promise((resolve, reject) => {
      const check = () => {
        if (seen.length && pred(seen[seen.length - 1])) {
          waiters.delete(check);
          clearTimeout(timer);
          console.log(`  ✓ ${what}`);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no change "${what}" within 15 s; last seen: ${fmt(seen[seen.length - 1] || [])}`));
      }, 15000);
      waiters.add(check);
      check();
    });
    const ports = hosts => hosts.map(h => h.port).sort().join(',');

    console.log('\n== 1. the client registers 127.0.0.1:19201 (and heartbeats it from now on)');
    await client.registerInstance('catalog', { ip: '127.0.0.1', port: 19201, metadata: { role: 'example' } });
    await expectChange('the subscriber sees 19201', h => ports(h) === '19201');

    console.log('\n== 2. another app registers 127.0.0.1:19202 over plain HTTP (and never beats)');
    await call(mock.url, 'POST', '/nacos/v1/ns/instance', { serviceName: 'catalog', ip: '127.0.0.1', port: '19202' });
    await expectChange('the subscriber sees 19201 and 19202', h => ports(h) === '19201,19202');

    console.log('\n== 3. the virtual clock jumps 8 s + 8 s: 19202 misses 3 beats and turns unhealthy');
    console.log('   (19201 beats between the jumps, as its client would every 5 s, and stays healthy)');
    const beat = { serviceName: 'DEFAULT_GROUP@@catalog', ip: '127.0.0.1', port: '19201' };
    await call(mock.url, 'POST', '/__mock/clock/advance', {}, { ms: 8000 });
    await call(mock.url, 'PUT', '/nacos/v1/ns/instance/beat', beat);
    const adv = JSON.parse(await call(mock.url, 'POST', '/__mock/clock/advance', {}, { ms: 8000 }));
    const changes = adv.changes.map(c => `${c.instanceId} ${c.from} -> ${c.to}`);
    console.log(`   clock/advance answered the changes: ${changes.join('; ') || '(none)'}`);
    if (changes.join() !== '127.0.0.1#19202#DEFAULT#DEFAULT_GROUP@@catalog HEALTHY -> UNHEALTHY') {
      throw new Error('expected exactly one change: 19202 HEALTHY -> UNHEALTHY');
    }
    await expectChange('19202 is reported unhealthy, 19201 healthy',
      h => h.some(x => x.port === 19202 && !x.healthy) && h.some(x => x.port === 19201 && x.healthy));

    console.log('\n== 4. the other app deregisters 19202');
    await call(mock.url, 'DELETE', '/nacos/v1/ns/instance', { serviceName: 'catalog', ip: '127.0.0.1', port: '19202' });
    await expectChange('only 19201 is left', h => ports(h) === '19201');

    console.log('\n== 5. the client deregisters its own instance');
    await client.deregisterInstance('catalog', { ip: '127.0.0.1', port: 19201 });
    const list = JSON.parse(await call(mock.url, 'GET', '/nacos/v1/ns/instance/list', { serviceName: 'catalog' }));
    if (list.hosts.length !== 0) throw new Error(`the registry still lists ${fmt(list.hosts)}`);
    console.log('  ✓ the registry lists no instance of catalog');
    console.log('   The npm client never hands an empty list to its subscribers (it keeps the last non-empty');
    console.log('   one, a protection against a registry that lost its data): no change is printed here.');

    const journal = JSON.parse(await call(mock.url, 'GET', '/__mock/requests', { api: 'list' }));
    const polls = journal.requests.filter(r => Number(r.params.udpPort) > 0).length;
    console.log(`\nthe client itself called instance/list ${polls} time(s); the other changes came by UDP push`);
    console.log('\nnode-client.js: all expectations met');
  } catch (err) {
    console.error(`nacos-mock log:\n${mock.log.join('\n')}`);
    throw err;
  } finally {
    if (client) await client.close();
    await mock.stop();
  }
}

// exit explicitly: the client leaves timers behind (its heartbeat loop sleeps up to 10 s)
main().then(() => process.exit(0), err => {
  console.error(`FAILED: ${err.message}`);
  process.exit(1);
});
