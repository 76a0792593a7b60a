'use strict';
/*
 * rust-client.js — the real Rust 2.x gRPC client (npm nacos-sdk-rust-binding-node, nacos-sdk-rust
 * 0.8.0) in a child process of its own, driven over IPC.
 *
 * Why a child: the binding has no close(); its tokio runtime and the subscribe callback keep a Node
 * process alive for ever, so a test file that made one would never end. In a child, the client is
 * ended the way an application ends — the process is killed (by its pid, SIGKILL), which also closes
 * its TCP connection. Each child is one client with one connection, as an application would have.
 *
 * Parent side: startRustClient(serverAddr, opts) resolves {pid, call(method, ...args), subscribe(
 * service, group, clusters), addListener(dataId, group), pushes, waitForPush(pred, ms), kill()}.
 * Child side: this file run with `node rust-client.js` under fork(); it builds
 * NacosNamingClient({serverAddr, namespace: '', ...opts}) — or NacosConfigClient when opts.kind is
 * 'config' — and answers {id, op, args} messages with {id, ok, value | error}; each subscribe callback
 * is sent as {push: {service, group, instances, timeMs}}, each config listener callback as
 * {push: {dataId, group, config, timeMs}}.
 */
const { fork } = require('node:child_process');

if (require.main === module) {
  // ---------------------------------------------------------------- child
  const { NacosNamingClient, NacosConfigClient } = require('nacos-sdk-rust-binding-node');
  const { kind, ...opts } = JSON.parse(process.argv[2]);
  let client;
  try {
    const t0 = Date.now();
    const Client = kind === 'config' ? NacosConfigClient : NacosNamingClient;
    client = new Client({ namespace: '', ...opts });   // blocks until connected (block_on)
    process.send({ ready: true, buildMs: Date.now() - t0 });
  } catch (err) {
    process.send({ ready: false, error: String(err && err.message) });
    process.exit(1);
  }
  process.on('message', async m => {
    try {
      let value;
      if (m.op === 'subscribe') {
        const [service, group, clusters] = m.args;
        value = await client.subscribe(service, group, clusters, (err, instances) => {
          process.send({ push: { service, group, err: err ? String(err.message) : null, instances, timeMs: Date.now() } });
        });
      } else if (m.op === 'addListener') {
        const [dataId, group] = m.args;
        value = await client.addListener(dataId, group, (err, config) => {
          process.send({ push: { dataId, group, err: err ? String(err.message) : null, config, timeMs: Date.now() } });
        });
      } else {
        value = await client[m.op](...m.args);
      }
      process.send({ id: m.id, ok: true, value: value === undefined ? null : value });
    } catch (err) {
      process.send({ id: m.id, ok: false, error: String(err && err.message) });
    }
  });
  process.on('disconnect', () => process.exit(0));   // the parent went away
} else {
  // ---------------------------------------------------------------- parent
  const { waitUntil } = require('./lib');
  const live = new Set();
  process.on('exit', () => {
    for (const c of live) {
      try { c.kill('SIGKILL'); } catch (_) { /* gone */ }
    }
  });

  /**
   * Forks a Rust client for serverAddr ("127.0.0.1:PORT": the client dials PORT + 1000 itself).
   * opts go to NacosNamingClient (appName, namingPushEmptyProtection, ...). Rejects when it cannot
   * connect within startTimeoutMs.
   */
  function startRustClient(serverAddr, opts = {}, { startTimeoutMs = 15000 } = {}) {
    const child = fork(__filename, [JSON.stringify({ serverAddr, ...opts })], {
      cwd: __dirname, stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    live.add(child);
    const output = [];
    for (const s of [child.stdout, child.stderr]) {
      s.setEncoding('utf8');
      s.on('data', d => {
        output.push(d);
        if (process.env.NACOS_INTEROP_VERBOSE === '1') process.stderr.write(`[rust ${child.pid}] ${d}`);
      });
    }
    const pending = new Map();
    const pushes = [];
    const pushWakers = new Set();
    let nextId = 1;
    let exited = false;
    const exitP = new Promise(resolve => child.on('exit', (code, sig) => {
      exited = true;
      live.delete(child);
      for (const p of pending.values()) p.reject(new Error(`rust client exited (${code ?? sig}) during ${p.op}`));
      pending.clear();
      resolve(code ?? sig);
    }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`rust client did not connect to ${serverAddr} within ${startTimeoutMs} ms\n${output.join('')}`));
      }, startTimeoutMs);
      child.on('message', m => {
        if (m.ready !== undefined) {
          clearTimeout(timer);
          if (!m.ready) {
            reject(new Error(`rust client failed to start: ${m.error}\n${output.join('')}`));
            return;
          }
          resolve(api);
        } else if (m.push) {
          pushes.push(m.push);
          for (const w of pushWakers) w();
        } else if (pending.has(m.id)) {
          const p = pending.get(m.id);
          pending.delete(m.id);
          if (m.ok) p.resolve(m.value); else p.reject(new Error(`rust ${p.op}: ${m.error}`));
        }
      });
      const api = {
        pid: child.pid,
        pushes,
        output: () => output.join(''),
        /** Calls a NacosNamingClient method in the child. */
        call(op, ...args) {
          if (exited) return Promise.reject(new Error('rust client has exited'));
          const id = nextId++;
          return new Promise((res, rej) => {
            pending.set(id, { resolve: res, reject: rej, op });
            child.send({ id, op, args });
          });
        },
        subscribe(service, group, clusters = null) { return api.call('subscribe', service, group, clusters); },
        addListener(dataId, group) { return api.call('addListener', dataId, group); },
        /** Resolves the first push (from index `from`) for which pred(push) is true. */
        waitForPush(pred, timeoutMs = 5000, from = 0) {
          return waitUntil(() => pushes.slice(from).find(pred), timeoutMs,
            () => `a matching push; pushes so far: ${JSON.stringify(pushes.slice(from))}`, pushWakers);
        },
        /** Ends the client as a crash would (SIGKILL); resolves when it is gone. */
        async kill() {
          if (!exited) child.kill('SIGKILL');
          return exitP;
        },
      };
    });
  }

  module.exports = { startRustClient };
}
