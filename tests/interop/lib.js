'use strict';
/*
 * lib.js — helpers of the interop suite: start/stop a nacos-mock process, talk to it directly over
 * HTTP, and small waiting utilities. The binary comes from env NACOS_MOCK_BIN (set by run.sh).
 */
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');

const READY_RE = /^nacos-mock listening on (http:\/\/127\.0\.0\.1:(\d+))$/;

// mocks still running; killed if this process goes away first (a test timed out, run.sh's guard fired)
const live = new Set();
function killLive() {
  for (const c of live) {
    try { c.kill('SIGKILL'); } catch (_) { /* already gone */ }
  }
}
process.on('exit', killLive);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    killLive();
    process.exit(128 + (sig === 'SIGTERM' ? 15 : 2));
  });
}

function mockBin() {
  const bin = process.env.NACOS_MOCK_BIN;
  if (!bin) throw new Error('NACOS_MOCK_BIN is not set (run tests/interop/run.sh path/to/nacos-mock)');
  return path.resolve(bin);
}

/**
 * Direct HTTP call to the mock (never through the client under test).
 * GET/DELETE: `form` goes into the query string; POST/PUT/PATCH: into an
 * application/x-www-form-urlencoded body. Resolves {status, headers, body, json()}.
 */
function request(baseUrl, method, pathname, form = {}, headers = {}) {
  const qs = new URLSearchParams(form).toString();
  const inBody = !['GET', 'DELETE', 'HEAD'].includes(method);
  const url = new URL(pathname + (!inBody && qs ? `?${qs}` : ''), baseUrl);
  if (url.hostname !== '127.0.0.1') throw new Error(`refusing non-loopback request to ${url}`);
  const body = inBody ? Buffer.from(qs) : null;
  const h = { 'User-Agent': 'nacos-mock-interop', ...headers };
  if (body) {
    h['Content-Type'] = 'application/x-www-form-urlencoded';
    h['Content-Length'] = body.length;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: h, agent: false, timeout: 5000 }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: text,
          json() { return JSON.parse(text); },
        });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/**
 * A JSON call to the control plane (`request` sends forms): `obj`, when given, is the JSON body.
 * Resolves {status, body, json} (json null for an empty body).
 */
function controlRequest(baseUrl, method, pathname, obj) {
  const url = new URL(pathname, baseUrl);
  if (url.hostname !== '127.0.0.1') throw new Error(`refusing non-loopback request to ${url}`);
  const body = obj === undefined ? null : Buffer.from(JSON.stringify(obj));
  const headers = body ? { 'Content-Type': 'application/json', 'Content-Length': body.length } : {};
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: 5000 }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
        resolve({ status: res.statusCode, body: text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/**
 * Spawns nacos-mock on 127.0.0.1 with a free port. Resolves
 * {port, url, http(method, path, form, headers), control(method, path, json), logs(), stdout(), nodes(),
 *  waitForLog(re, n, ms), stop()} once node 0's listening line came (with --nodes N the other nodes'
 * lines follow it: stdout() keeps every line; nodes() asks GET /__mock/nodes).
 * stop() sends SIGTERM and resolves with the exit code.
 */
function startMock(extraArgs = [], { startTimeoutMs = 5000 } = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('NACOS_MOCK_')) env[k] = v;   // NACOS_MOCK_* would configure the mock
  }
  const args = ['--port', '0', '--host', '127.0.0.1', ...extraArgs];
  const child = spawn(mockBin(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const stderrLines = [];
  const logWaiters = new Set();
  readline.createInterface({ input: child.stderr }).on('line', line => {
    stderrLines.push(line);
    for (const w of logWaiters) w();
  });
  let exitCode = null;
  let exitSignal = null;
  const exited = new Promise(resolve => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      exitCode = code;
      exitSignal = signal;
      resolve(code === null ? `signal ${signal}` : code);
    });
  });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nacos-mock did not print its URL within ${startTimeoutMs} ms; stderr:\n${stderrLines.join('\n')}`));
    }, startTimeoutMs);
    child.on('error', err => { clearTimeout(timer); reject(err); });
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`nacos-mock exited early (code ${exitCode}, signal ${exitSignal}); stderr:\n${stderrLines.join('\n')}`));
    });
    const rl = readline.createInterface({ input: child.stdout });
    const stdoutLines = [];
    rl.on('line', line => stdoutLines.push(line));
    rl.once('line', line => {
      clearTimeout(timer);
      const m = READY_RE.exec(line);
      if (!m) {
        child.kill('SIGKILL');
        reject(new Error(`unexpected first stdout line of nacos-mock: ${JSON.stringify(line)}`));
        return;
      }
      const url = m[1];
      const mock = {
        port: Number(m[2]),
        url,
        args,
        pid: child.pid,
        http: (method, pathname, form, headers) => request(url, method, pathname, form, headers),
        control: (method, pathname, obj) => controlRequest(url, method, pathname, obj),
        logs: () => stderrLines.slice(),
        stdout: () => stdoutLines.slice(),
        /** GET /__mock/nodes -> [{node, url, port, grpcPort, status, listening, upInMs, connections}]. */
        async nodes() {
          const r = await controlRequest(url, 'GET', '/__mock/nodes');
          if (r.status !== 200) throw new Error(`GET /__mock/nodes -> ${r.status} ${r.body}`);
          return r.json.nodes;
        },
        /** Resolves the matching stderr lines once at least n lines match re. */
        waitForLog(re, n = 1, timeoutMs = 5000) {
          return waitUntil(() => {
            const hits = stderrLines.filter(l => re.test(l));
            return hits.length >= n ? hits : null;
          }, timeoutMs, () => `${n} stderr line(s) matching ${re}; got ${stderrLines.filter(l => re.test(l)).length}`,
          logWaiters);
        },
        async stop() {
          if (exitCode === null && exitSignal === null) child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          const code = await exited;
          clearTimeout(t);
          return code;
        },
      };
      resolve(mock);
    });
  });
}

/**
 * Polls `fn` (sync or async) until it returns a truthy value; resolves that value. `wakers`, when
 * given, is a Set into which a re-check callback is put so events can wake the poll early.
 */
function waitUntil(fn, timeoutMs, describe, wakers) {
  return new Promise((resolve, reject) => {
    let done = false;
    let busy = false;
    const finish = (err, v) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      clearInterval(iv);
      if (wakers) wakers.delete(check);
      if (err) reject(err); else resolve(v);
    };
    const check = async () => {
      if (done || busy) return;
      busy = true;
      try {
        const v = await fn();
        if (v) finish(null, v);
      } catch (err) {
        finish(err);
      } finally {
        busy = false;
      }
    };
    const deadline = setTimeout(() => {
      const what = typeof describe === 'function' ? describe() : describe || 'condition';
      finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const iv = setInterval(check, 50);
    if (wakers) wakers.add(check);
    check();
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

/** A logger for the nacos client: keeps everything, prints nothing unless NACOS_INTEROP_VERBOSE=1. */
function memoryLogger(name) {
  const lines = [];
  const verbose = process.env.NACOS_INTEROP_VERBOSE === '1';
  const util = require('node:util');
  const mk = level => (...a) => {
    const msg = a.map(x => (x instanceof Error ? x.stack : x));
    const line = `[${name}] ${level} ${util.format(...msg)}`;
    lines.push(line);
    if (verbose) process.stderr.write(line + '\n');
  };
  return {
    lines,
    debug: mk('debug'),
    info: mk('info'),
    warn: mk('warn'),
    error: mk('error'),
    /** warn/error lines (the client reports failed requests this way). */
    problems: () => lines.filter(l => / (warn|error) /.test(l)),
  };
}

/**
 * Runs body(env) and afterwards closes whatever it opened: env.mock(args) starts a mock;
 * env.track(thing, close, diag) registers a client with its closer and (optional) diagnostic lines.
 * Closers run in reverse order, then the mocks stop and must exit 0 when the body passed. A failure
 * gets the mocks' stderr tails and each tracked thing's diagnostics appended.
 */
async function withEnv(body) {
  const mocks = [];
  const tracked = [];
  const env = {
    async mock(args = []) {
      const m = await startMock(args);
      mocks.push(m);
      return m;
    },
    track(thing, close, diag) {
      tracked.push({ close, diag });
      return thing;
    },
  };
  let failure = null;
  try {
    await body(env);
  } catch (err) {
    failure = err;
  }
  for (const t of tracked.reverse()) {
    try { await t.close(); } catch (_) { /* closing is best effort */ }
  }
  const codes = [];
  for (const m of mocks) codes.push(await m.stop());
  if (failure) {
    const diag = [];
    for (const m of mocks) diag.push(`--- nacos-mock ${m.url} stderr (tail) ---`, ...m.logs().slice(-40));
    for (const t of tracked) if (t.diag) diag.push(...t.diag());
    failure.message += `\n${diag.join('\n')}`;
    throw failure;
  }
  const assert = require('node:assert/strict');
  assert.deepEqual(codes, mocks.map(() => 0), 'nacos-mock exit codes after SIGTERM');
}

/** The hosts of GET /nacos/v1/ns/instance/list (form: serviceName, groupName, namespaceId, ...). */
async function v1Hosts(mock, form) {
  const r = await mock.http('GET', '/nacos/v1/ns/instance/list', form);
  if (r.status !== 200) throw new Error(`instance/list ${JSON.stringify(form)} -> ${r.status} ${r.body}`);
  return r.json().hosts;
}

/** GET /__mock/connections -> the array of connections. */
async function connections(mock) {
  const r = await mock.control('GET', '/__mock/connections');
  if (r.status !== 200) throw new Error(`GET /__mock/connections -> ${r.status} ${r.body}`);
  return r.json.connections;
}

/** GET /__mock/requests with a query -> the array of journal entries. */
async function journal(mock, query) {
  const r = await mock.http('GET', '/__mock/requests', query);
  if (r.status !== 200) throw new Error(`GET /__mock/requests -> ${r.status} ${r.body}`);
  return r.json().requests;
}

/** One counter of GET /__mock/metrics (the full series name with labels), 0 when absent. */
async function metric(mock, series) {
  const r = await mock.http('GET', '/__mock/metrics');
  const line = r.body.split('\n').find(l => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

module.exports = {
  startMock, request, controlRequest, waitUntil, sleep, memoryLogger, mockBin, withEnv, v1Hosts, connections, journal,
  metric,
};
