/*
 * nacos-mock console — one page, no framework, no build step. It drives nothing but the control
 * plane a test uses (/__mock/*) and stays live through the events stream (GET /__mock/events, read
 * with fetch so the admin token travels in the Authorization header, never in the URL).
 *
 * State: a snapshot of each part (registry, faults, connections, status, clock) loaded once the
 * stream is open, then kept current by the events; what no event announces (beats moving an
 * instance's last beat, hit counts) is refreshed by a light poll. Every name shown comes from
 * clients, so the DOM is built with textContent, never from HTML strings.
 */
'use strict';

(() => {
  const $ = sel => document.querySelector(sel);
  const TOKEN_KEY = 'nacos-mock-admin-token';
  const KINDS = ['registered', 'deregistered', 'updated', 'health', 'removed', 'fault', 'connection', 'status',
    'config', 'clock'];
  const FEED_MAX = 300;
  const JOURNAL_MAX = 200;
  const TIMELINE_MS = 10 * 60 * 1000;

  /* Presets: the README's chaos rehearsal cookbook. */
  const PRESETS = [
    ['register fails with 500 twice', { match: { api: 'register' }, action: { status: 500 }, times: 2 }],
    ['register conflicts (409)', { match: { api: 'register' }, action: { status: 409, body: 'caused: conflict;' } }],
    ['flaky beats (30 % fail)', { match: { api: 'beat' }, action: { status: 500 }, probability: 0.3 }],
    ['beats say "unknown instance" (20404)', { match: { api: 'beat' }, action: { beatCode: 20404 }, times: 1 }],
    ['slow discovery (1.5–2.5 s)', { match: { api: 'list' }, action: { delayMs: 1500, jitterMs: 1000 } }],
    ['connection reset on list (3 times)', { match: { api: 'list' }, action: { drop: 'reset' }, times: 3 }],
    ['registry hangs for 10 s', { match: { api: 'any' }, action: { drop: 'hang' }, forMs: 10000 }],
    ['pushes lost', { match: { api: 'push' }, action: { drop: 'close' } }],
    ['gRPC calls unavailable (14), twice', { match: { api: 'any', transport: 'grpc' }, action: { grpcStatus: 14 }, times: 2 }],
  ];

  /* ------------------------------------------------------------------ small helpers */

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }

  function svg(tag, attrs) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  }

  function debounce(fn, ms) {
    let t = null;
    return () => {
      if (t) return;
      t = setTimeout(() => { t = null; fn(); }, ms);
    };
  }

  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const two = n => String(n).padStart(2, '0');
  function clockText(ms) {
    const d = new Date(ms);
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
      `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  }
  function timeText(ms) {
    const d = new Date(ms);
    return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  }
  function dur(ms) {
    const a = Math.abs(ms);
    if (a < 1000) return `${Math.round(ms)} ms`;
    if (a < 120000) return `${(ms / 1000).toFixed(1)} s`;
    if (a < 7200000) return `${(ms / 60000).toFixed(1)} min`;
    return `${(ms / 3600000).toFixed(1)} h`;
  }
  const bare = grouped => { const i = grouped.indexOf('@@'); return i < 0 ? grouped : grouped.slice(i + 2); };
  const groupOf = grouped => { const i = grouped.indexOf('@@'); return i < 0 ? 'DEFAULT_GROUP' : grouped.slice(0, i); };
  const instKey = (cluster, ip, port) => `${cluster || 'DEFAULT'}|${ip}|${port}`;

  let noticeTimer = null;
  function notice(text, isError) {
    const n = $('#notice');
    n.textContent = text;
    n.classList.toggle('error', !!isError);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { n.textContent = ''; }, 8000);
  }

  /* ------------------------------------------------------------------ the control plane */

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let tokenAsk = null;

  /* Asks for the admin token once (a dialog), however many calls are waiting for it. */
  function askToken(wrong) {
    if (tokenAsk) return tokenAsk;
    const dlg = $('#token-dialog');
    $('#token-error').textContent = wrong ? 'That token was refused (401).' : '';
    $('#token-input').value = '';
    tokenAsk = new Promise(resolve => {
      dlg.addEventListener('close', () => {
        token = $('#token-input').value.trim();
        sessionStorage.setItem(TOKEN_KEY, token);
        tokenAsk = null;
        resolve();
      }, { once: true });
    });
    if (!dlg.open) dlg.showModal();
    $('#token-input').focus();
    return tokenAsk;
  }

  function authHeaders(extra) {
    const hd = Object.assign({}, extra || {});
    if (token) hd.Authorization = `Bearer ${token}`;
    return hd;
  }

  /* One /__mock/ call: JSON in and out. Resolves {status, json}; asks for the token on 401. */
  async function api(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      const opts = { method, headers: authHeaders(body !== undefined ? { 'Content-Type': 'application/json' } : {}) };
      if (body !== undefined) opts.body = typeof body === 'string' ? body : JSON.stringify(body);
      const res = await fetch(path, opts);
      if (res.status === 401 && attempt < 5) {
        await askToken(attempt > 0 || !!token);
        continue;
      }
      const text = await res.text();
      let json = null;
      try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
      return { status: res.status, json, text };
    }
  }

  async function apiOk(method, path, body) {
    const r = await api(method, path, body);
    if (r.status >= 400) {
      const msg = r.json && r.json.error ? r.json.error : `${method} ${path}: HTTP ${r.status}`;
      throw new Error(msg);
    }
    return r.json;
  }

  /* ------------------------------------------------------------------ the virtual clock */

  const clock = { baseVirtual: Date.now(), baseLocal: performance.now(), offset: 0 };
  const vnow = () => clock.baseVirtual + (performance.now() - clock.baseLocal);
  function syncClock(virtualMs, offsetMs) {
    clock.baseVirtual = virtualMs;
    clock.baseLocal = performance.now();
    if (offsetMs !== undefined) clock.offset = offsetMs;
    renderClock();
  }
  function renderClock() {
    const now = vnow();
    const t = $('#clock-now');
    t.textContent = clockText(now);
    t.setAttribute('datetime', new Date(now).toISOString());
    $('#clock-offset').textContent = clock.offset ? `(real time + ${dur(clock.offset)})` : '(real time)';
  }
  async function loadClock() {
    const c = await apiOk('GET', '/__mock/clock');
    syncClock(c.nowMs, c.offsetMs);
  }

  async function advance(ms) {
    try {
      const r = await apiOk('POST', '/__mock/clock/advance', { ms });
      syncClock(r.nowMs, r.offsetMs);
      const n = r.changes.length;
      notice(`Clock advanced by ${dur(ms)}: ${n} health change${n === 1 ? '' : 's'}.`);
    } catch (e) {
      notice(e.message, true);
    }
  }

  /* ------------------------------------------------------------------ status */

  let status = 'UP';
  function renderStatus() {
    const sel = $('#status-select');
    if (document.activeElement !== sel) sel.value = status;
    sel.className = status === 'UP' ? 'status-UP' : 'status-other';
  }
  async function loadStatus() {
    status = (await apiOk('GET', '/__mock/status')).status;
    renderStatus();
  }

  /* ------------------------------------------------------------------ registry */

  /* ns → Map(grouped service → {name, group, explicit, instances: Map(key → instance)}) */
  let registry = new Map();
  const openServices = new Set();
  const history = new Map();   /* "ns|service" → [{t, key, label, state}] for timelines */
  let loadedAt = Date.now();

  function service(ns, grouped, create) {
    let m = registry.get(ns);
    if (!m && create) registry.set(ns, m = new Map());
    let s = m && m.get(grouped);
    if (!s && create) {
      s = { grouped, name: bare(grouped), group: groupOf(grouped), explicit: false, instances: new Map() };
      m.set(grouped, s);
    }
    return s;
  }

  function record(ns, grouped, key, label, state, t) {
    const k = `${ns}|${grouped}`;
    let list = history.get(k);
    if (!list) history.set(k, list = []);
    list.push({ t, key, label, state });
    if (list.length > 2000) list.splice(0, list.length - 2000);
  }

  async function loadRegistry() {
    const snap = await apiOk('GET', '/__mock/registry');
    const next = new Map();
    for (const ns of snap.namespaces) {
      const m = new Map();
      next.set(ns.namespaceId, m);
      for (const s of ns.services) {
        const grouped = `${s.groupName}@@${s.name}`;
        const svc = { grouped, name: s.name, group: s.groupName, explicit: s.explicit, instances: new Map() };
        for (const i of s.instances) {
          const key = instKey(i.clusterName, i.ip, i.port);
          svc.instances.set(key, i);
          const k = `${ns.namespaceId}|${grouped}`;
          const list = history.get(k);
          const last = list && [...list].reverse().find(x => x.key === key);
          const state = i.healthy ? 'HEALTHY' : 'UNHEALTHY';
          if (!last || last.state !== state) record(ns.namespaceId, grouped, key, `${i.ip}:${i.port}`, state, snap.nowMs);
        }
        m.set(grouped, svc);
      }
    }
    registry = next;
    syncClock(snap.nowMs);
    renderRegistry();
  }

  function instanceRow(ns, svc, key, i, now) {
    const health = i.healthy ? 'HEALTHY' : 'UNHEALTHY';
    let due = '';
    let dueTitle = '';
    if (!i.ephemeral) {
      due = 'never (persistent)';
    } else if (i.connectionId) {
      due = 'when its connection ends';
    } else if (i.healthy) {
      const left = i.lastBeatMs + i.heartBeatTimeoutMs - now;
      due = left > 0 ? `UNHEALTHY in ${dur(left)}` : 'UNHEALTHY at the next sweep';
      dueTitle = `after ${dur(i.heartBeatTimeoutMs)} without a beat`;
    } else {
      const left = i.lastBeatMs + i.ipDeleteTimeoutMs - now;
      due = left > 0 ? `removed in ${dur(left)}` : 'removed at the next sweep';
      dueTitle = `after ${dur(i.ipDeleteTimeoutMs)} without a beat`;
    }
    const md = Object.entries(i.metadata || {}).map(([k, v]) => `${k}=${v}`).join(', ');
    const kind = i.ephemeral ? (i.connectionId ? 'ephemeral (gRPC)' : 'ephemeral') : 'persistent';
    return h('tr', { 'data-instance': key, 'data-health': health },
      h('td', { class: 'mono' }, `${i.ip}:${i.port}`),
      h('td', {}, i.clusterName),
      h('td', {}, h('span', { class: `health ${health}` }, health), i.enabled === false ? ' (disabled)' : ''),
      h('td', { class: 'num' }, Number(i.weight).toFixed(1)),
      h('td', {}, kind),
      h('td', { 'data-since': i.lastBeatMs, title: clockText(i.lastBeatMs) }, `${dur(now - i.lastBeatMs)} ago`),
      h('td', { 'data-due': '1', title: dueTitle }, due),
      h('td', { class: 'md' }, md || '—'));
  }

  function timeline(ns, svc, now) {
    const list = history.get(`${ns}|${svc.grouped}`) || [];
    const keys = [...new Set([...svc.instances.keys(), ...list.map(x => x.key)])].slice(0, 20);
    if (!keys.length) return null;
    const from = Math.max(now - TIMELINE_MS, Math.min(loadedAt, ...list.map(x => x.t)));
    const span = Math.max(now - from, 1000);
    const W = 600, left = 130, rowH = 12;
    const g = svg('svg', { class: 'timeline', viewBox: `0 0 ${W} ${keys.length * rowH + 14}`, role: 'img' });
    const title = svg('title', {});
    const changes = list.filter(x => x.t >= from);
    title.textContent = `Health of ${svc.name} over the last ${dur(span)} of virtual time: ${changes.length} change(s)`;
    g.append(title);
    const x = t => left + ((t - from) / span) * (W - left - 4);
    keys.forEach((key, row) => {
      const y = row * rowH + 2;
      const label = svg('text', { x: 0, y: y + 9 });
      const inst = svc.instances.get(key);
      label.textContent = inst ? `${inst.ip}:${inst.port}` : key.split('|').slice(1).join(':');
      g.append(label);
      const mine = list.filter(e => e.key === key);
      for (let n = 0; n < mine.length; n++) {
        const e = mine[n];
        if (e.state !== 'HEALTHY' && e.state !== 'UNHEALTHY') continue;
        const end = n + 1 < mine.length ? mine[n + 1].t : now;
        if (end < from) continue;
        const x0 = x(Math.max(e.t, from)), x1 = x(end);
        g.append(svg('rect', { x: x0, y, width: Math.max(x1 - x0, 1.5), height: rowH - 3,
          class: e.state === 'HEALTHY' ? 'ok' : 'bad' }));
      }
    });
    const axis = svg('text', { x: left, y: keys.length * rowH + 12 });
    axis.textContent = `${timeText(from)} … ${timeText(now)} (virtual time)`;
    g.append(axis);
    const hist = h('details', { class: 'history' },
      h('summary', {}, `Transitions (${changes.length}) — green HEALTHY, red UNHEALTHY, blank: not registered`),
      h('ol', {}, changes.slice(-50).map(e => h('li', {}, `${timeText(e.t)} ${e.label} ${e.state}`))));
    return [g, hist];
  }

  function serviceBlock(ns, svc, now) {
    const insts = [...svc.instances.entries()];
    const healthy = insts.filter(([, i]) => i.healthy).length;
    const id = `${ns}|${svc.grouped}`;
    const det = h('details', { class: 'svc', 'data-service': svc.grouped, 'data-ns': ns, open: openServices.has(id) },
      h('summary', {},
        h('span', { class: 'svc-name' }, svc.name),
        h('span', { class: 'svc-group' }, svc.group),
        svc.explicit ? h('span', { class: 'pill' }, 'created') : null,
        h('span', { class: 'counts' },
          h('span', { class: 'pill' }, `${insts.length} instance${insts.length === 1 ? '' : 's'}`),
          healthy ? h('span', { class: 'pill ok' }, `${healthy} healthy`) : null,
          insts.length - healthy ? h('span', { class: 'pill bad' }, `${insts.length - healthy} unhealthy`) : null)));
    det.addEventListener('toggle', () => {
      if (det.open) { openServices.add(id); fill(); } else openServices.delete(id);
    });
    function fill() {
      if (det.querySelector('.svc-body')) return;
      const body = h('div', { class: 'svc-body' });
      const tl = timeline(ns, svc, vnow());
      if (tl) body.append(...tl);
      if (insts.length) {
        body.append(h('table', { class: 'grid' },
          h('caption', { class: 'vh' }, `Instances of ${svc.name}`),
          h('thead', {}, h('tr', {}, ['Instance', 'Cluster', 'Health', 'Weight', 'Kind', 'Last beat',
            'Next health change', 'Metadata'].map((c, n) => h('th', { scope: 'col', class: n === 3 ? 'num' : null }, c)))),
          h('tbody', {}, insts.map(([key, i]) => instanceRow(ns, svc, key, i, now)))));
      } else {
        body.append(h('p', { class: 'muted' }, 'No instances.'));
      }
      det.append(body);
    }
    if (det.open) fill();
    return det;
  }

  function renderRegistry() {
    const body = $('#registry-body');
    const active = document.activeElement;
    const focusKey = active && active.closest && active.closest('details.svc') && active.tagName === 'SUMMARY'
      ? `${active.parentElement.dataset.ns}|${active.parentElement.dataset.service}` : null;
    const filter = $('#registry-filter').value.trim().toLowerCase();
    const now = vnow();
    const out = [];
    let nServices = 0, nInstances = 0, nUnhealthy = 0;
    for (const [ns, m] of [...registry.entries()].sort()) {
      const blocks = [];
      for (const svc of [...m.values()].sort((a, b) => a.grouped.localeCompare(b.grouped))) {
        nServices++;
        nInstances += svc.instances.size;
        for (const i of svc.instances.values()) if (!i.healthy) nUnhealthy++;
        if (filter && !svc.grouped.toLowerCase().includes(filter) &&
            ![...svc.instances.values()].some(i => `${i.ip}:${i.port}`.includes(filter))) continue;
        blocks.push(serviceBlock(ns, svc, now));
      }
      if (blocks.length) {
        out.push(h('section', { class: 'ns', 'aria-label': `Namespace ${ns}` }, h('h3', {}, `Namespace ${ns}`), blocks));
      }
    }
    body.replaceChildren(...(out.length ? out : [h('p', { class: 'muted' },
      filter ? 'No service matches the filter.' : 'No services yet. Register an instance and it appears here.')]));
    $('#registry-summary').textContent =
      `${nServices} service${nServices === 1 ? '' : 's'}, ${nInstances} instance${nInstances === 1 ? '' : 's'}` +
      (nUnhealthy ? `, ${nUnhealthy} unhealthy` : '');
    if (focusKey) {
      const [ns, grouped] = focusKey.split('|');
      const again = [...body.querySelectorAll('details.svc')].find(d => d.dataset.ns === ns && d.dataset.service === grouped);
      if (again) again.querySelector('summary').focus();
    }
  }
  const renderRegistrySoon = debounce(renderRegistry, 50);
  const loadRegistrySoon = debounce(() => loadRegistry().catch(e => notice(e.message, true)), 150);

  /* Applies one registry event to the model; false when a reload is needed instead. */
  function applyRegistry(kind, d) {
    const ns = d.namespaceId || 'public';
    if (!d.ip) return false;   /* a service, or a whole part of the registry */
    const key = instKey(d.clusterName, d.ip, d.port);
    const label = `${d.ip}:${d.port}`;
    if (kind === 'registered' || kind === 'updated') {
      const svc = service(ns, d.serviceName, true);
      const inst = Object.assign({}, d);
      delete inst.timeMs;
      delete inst.reason;
      const before = svc.instances.get(key);
      svc.instances.set(key, inst);
      const state = inst.healthy ? 'HEALTHY' : 'UNHEALTHY';
      if (!before || (before.healthy ? 'HEALTHY' : 'UNHEALTHY') !== state) record(ns, d.serviceName, key, label, state, d.timeMs);
    } else if (kind === 'health') {
      const svc = service(ns, d.serviceName, false);
      const inst = svc && svc.instances.get(key);
      if (!inst) return false;
      inst.healthy = d.to === 'HEALTHY';
      if (inst.healthy) inst.lastBeatMs = d.timeMs;
      record(ns, d.serviceName, key, label, d.to, d.timeMs);
    } else if (kind === 'deregistered' || kind === 'removed') {
      const svc = service(ns, d.serviceName, false);
      if (svc) svc.instances.delete(key);
      record(ns, d.serviceName, key, label, 'GONE', d.timeMs);
    }
    return true;
  }

  /* ------------------------------------------------------------------ faults */

  let faults = [];
  function summariseMatch(m) {
    return Object.entries(m).map(([k, v]) => (k === 'api' ? v : `${k}=${v}`)).join(' ');
  }
  function summariseAction(a) {
    const parts = [];
    if (a.status) parts.push(`status ${a.status}`);
    if (a.grpcStatus) parts.push(`grpc-status ${a.grpcStatus}`);
    if (a.beatCode) parts.push(`beat code ${a.beatCode}`);
    if (a.delayMs) parts.push(`delay ${a.delayMs} ms${a.jitterMs ? ` + 0–${a.jitterMs}` : ''}`);
    if (a.drop) parts.push(`drop: ${a.drop}`);
    return parts.join(', ');
  }
  function renderFaults() {
    const body = $('#faults-body');
    if (!faults.length) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No rules. Add one below.')));
      return;
    }
    body.replaceChildren(...faults.map(f => {
      const extra = [];
      if (f.probability !== undefined && f.probability < 1) extra.push(`p=${f.probability}`);
      if (f.after) extra.push(`after ${f.after}`);
      if (f.forMs) extra.push(`for ${dur(f.forMs)}`);
      return h('tr', { 'data-fault': f.id },
        h('td', { class: 'mono' }, f.id),
        h('td', {}, summariseMatch(f.match), extra.length ? h('div', { class: 'muted' }, extra.join(', ')) : null),
        h('td', {}, summariseAction(f.action)),
        h('td', { class: 'num', 'data-hits': f.hits }, String(f.hits)),
        h('td', { class: 'num' }, f.remaining === null || f.remaining === undefined ? '∞' : String(f.remaining)),
        h('td', {}, f.expired ? 'spent' : 'active'),
        h('td', {}, h('button', { type: 'button', 'aria-label': `Delete rule ${f.id}`, onclick: () => deleteFault(f.id) }, 'Delete')));
    }));
  }
  async function loadFaults() {
    faults = (await apiOk('GET', '/__mock/faults')).faults;
    renderFaults();
  }
  const loadFaultsSoon = debounce(() => loadFaults().catch(e => notice(e.message, true)), 100);
  async function deleteFault(id) {
    try {
      await apiOk('DELETE', `/__mock/faults/${encodeURIComponent(id)}`);
      notice(`Rule ${id} deleted.`);
      await loadFaults();
    } catch (e) {
      notice(e.message, true);
    }
  }

  /* ------------------------------------------------------------------ connections */

  async function loadConnections() {
    const r = await api('GET', '/__mock/connections');
    const body = $('#connections-body');
    if (r.status === 404) {   /* a server without the endpoint */
      body.replaceChildren(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'Not available on this server.')));
      return;
    }
    const list = (r.json && r.json.connections) || [];
    $('#connections-summary').textContent = `${list.length} open`;
    if (!list.length) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'None. Nacos 2.x clients connect over gRPC.')));
      return;
    }
    body.replaceChildren(...list.map(c => h('tr', { 'data-connection': c.id },
      h('td', { class: 'mono' }, c.id),
      h('td', { class: 'mono' }, c.remoteAddr),
      h('td', { class: 'num' }, String(c.node)),
      h('td', {}, [c.appName, c.clientVersion].filter(Boolean).join(' · ') || '—'),
      h('td', { title: clockText(c.connectedAtMs) }, timeText(c.connectedAtMs)),
      h('td', { class: 'num' }, String(c.instances)),
      h('td', { class: 'num' }, String(c.subscriptions)),
      h('td', {},
        h('button', { type: 'button', 'aria-label': `Close connection ${c.id}`, onclick: () => closeConnection(c.id) }, 'Close'),
        ' ',
        h('button', { type: 'button', 'aria-label': `Ask connection ${c.id} to reconnect`,
          onclick: () => resetConnection(c.id) }, 'Reset')))));
  }
  const loadConnectionsSoon = debounce(() => loadConnections().catch(e => notice(e.message, true)), 150);
  async function closeConnection(id) {
    try {
      await apiOk('DELETE', `/__mock/connections/${encodeURIComponent(id)}`);
      notice(`Connection ${id} closed.`);
    } catch (e) {
      notice(e.message, true);
    }
  }
  async function resetConnection(id) {
    try {
      await apiOk('POST', `/__mock/connections/${encodeURIComponent(id)}/reset`, {});
      notice(`Connection ${id} asked to reconnect.`);
    } catch (e) {
      notice(e.message, true);
    }
  }

  /* ------------------------------------------------------------------ request journal */

  const journal = { rows: [], last: 0, paused: false, query: '' };
  function journalQuery() {
    const f = new FormData($('#requests-filter'));
    const q = new URLSearchParams();
    for (const [k, v] of f.entries()) if (String(v).trim()) q.set(k, String(v).trim());
    return q;
  }
  async function loadJournal(fresh) {
    if (journal.paused && !fresh) return;
    const q = journalQuery();
    const qs = q.toString();
    if (fresh || qs !== journal.query) {
      journal.rows = [];
      journal.last = 0;
      journal.query = qs;
      q.set('limit', '50');
    } else {
      q.set('since', String(journal.last));
      q.set('limit', '500');
    }
    const r = await api('GET', `/__mock/requests?${q}`);
    if (r.status !== 200) {
      if (r.json && r.json.error) notice(r.json.error, true);
      return;
    }
    const got = r.json.requests;
    if (!got.length && !fresh) return;
    for (const e of got) journal.last = Math.max(journal.last, e.seq);
    journal.rows = journal.rows.concat(got).slice(-JOURNAL_MAX);
    renderJournal();
  }
  function renderJournal() {
    const body = $('#requests-body');
    if (!journal.rows.length) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No requests yet.')));
      return;
    }
    body.replaceChildren(...journal.rows.slice().reverse().map(e => {
      const p = e.params || {};
      const svcName = p.serviceName || (p.service && p.service.name) || '';
      const inst = p.ip ? `${p.ip}:${p.port || ''}` : '';
      return h('tr', { class: e.fault ? 'faulted' : null, title: JSON.stringify(p).slice(0, 500) },
        h('td', { class: 'num' }, String(e.seq)),
        h('td', {}, h('time', {}, timeText(e.timeMs))),
        h('td', { class: 'mono' }, `${e.method} ${e.path}`),
        h('td', {}, e.api || '—'),
        h('td', {}, String(svcName)),
        h('td', { class: 'mono' }, inst),
        h('td', { class: 'num' }, e.status === null ? (e.drop || 'dropped') : String(e.status)),
        h('td', { class: 'mono' }, e.fault || ''),
        h('td', { class: 'num' }, Number(e.durationMs).toFixed(1)));
    }));
  }

  /* ------------------------------------------------------------------ the events feed */

  const feed = { paused: false, hidden: new Set() };
  /* One line of text for an event: what happened, to what. */
  function describe(kind, d) {
    const where = d.serviceName ? `${bare(d.serviceName)}${d.ip ? ` ${d.ip}:${d.port}` : ''}` : '';
    const opt = (cond, text) => (cond ? text : '');
    const health = d.healthy ? 'healthy' : 'unhealthy';
    const weight = `weight ${Number(d.weight).toFixed(1)}`;
    /* an event about a service or the whole registry, not one instance */
    const many = fallback => `${d.serviceName ? `${bare(d.serviceName)}: ` : fallback}${d.reason}` +
      opt(d.count >= 0, ` (${d.count})`);
    switch (kind) {
      case 'registered':
        return d.ip ? `${where} registered (${health}, ${weight}${opt(!d.ephemeral, ', persistent')})` : many('');
      case 'updated':
        return d.ip ? `${where} updated (${weight}, ${health})` : many('');
      case 'deregistered':
        return `${where} deregistered${opt(d.reason, ` (${d.reason})`)}`;
      case 'health':
        return `${where} ${d.from} → ${d.to} after ${dur(d.sinceLastBeatMs)} without a beat`;
      case 'removed':
        if (!d.ip) return many('registry: ');
        return `${where} removed (${d.reason}` +
          `${opt(d.sinceLastBeatMs !== undefined, `, ${dur(d.sinceLastBeatMs)} without a beat`)})`;
      case 'fault':
        return `rule ${d.ruleId} fired on ${d.api}${opt(d.transport === 'grpc', ' (gRPC)')}` +
          `${opt(where, ` for ${where}`)}: ${summariseAction(d.action || {}) || 'action'}`;
      case 'connection':
        return `gRPC connection ${d.id} ${d.state}${opt(d.remoteAddr, ` from ${d.remoteAddr}`)}` +
          opt(d.removed, `, ${d.removed} instance(s) removed`);
      case 'status': return `${opt(d.node !== undefined, `node ${d.node} `)}status ${d.from} → ${d.status}`;
      case 'config': return `config ${d.dataId} (${d.group}, ${d.namespaceId}) ${d.action}`;
      case 'clock': return `clock advanced by ${dur(d.advancedMs)} (now real time + ${dur(d.offsetMs)})`;
      case 'gap': return 'events were missed while reconnecting: the view was reloaded';
      case 'overflow': return 'this page fell too far behind the events: the view is reloaded when it reconnects';
      default: return JSON.stringify(d);
    }
  }
  function addFeed(kind, d) {
    if (feed.paused) return;
    const list = $('#events-list');
    const cls = kind === 'health' ? (d.to === 'HEALTHY' ? 'ok' : 'bad') : '';
    const li = h('li', { 'data-kind': kind, hidden: feed.hidden.has(kind) },
      h('time', {}, timeText(d.timeMs || vnow())),
      h('span', { class: `kind k-${kind} ${cls}` }, kind),
      h('span', {}, describe(kind, d)));
    list.prepend(li);
    while (list.children.length > FEED_MAX) list.lastElementChild.remove();
  }

  /* ------------------------------------------------------------------ the stream */

  let lastId = null;
  let reloadOnOpen = false;   /* the stream overflowed: reload once the next one is subscribed */
  let loading = null;      /* the snapshot load under way: events wait for it */
  let queued = [];

  async function loadAll() {
    loadedAt = vnow();
    await Promise.all([loadClock(), loadStatus(), loadRegistry(), loadFaults(), loadConnections(), loadJournal(true)]);
  }

  function handle(kind, d) {
    if (typeof d.timeMs === 'number') syncClock(Math.max(d.timeMs, vnow() - 50));   /* the server's virtual time */
    addFeed(kind, d);
    switch (kind) {
      case 'registered': case 'updated': case 'deregistered': case 'health': case 'removed':
        if (applyRegistry(kind, d)) renderRegistrySoon(); else loadRegistrySoon();
        if (kind === 'removed' && !d.ip && d.reason === 'reset') { loadFaultsSoon(); loadConnectionsSoon(); loadJournal(true); }
        break;
      case 'fault': loadFaultsSoon(); break;
      case 'connection': loadConnectionsSoon(); break;
      case 'status':   /* a node's own status (--nodes) is not the cluster's */
        if (d.node === undefined) { status = d.status; renderStatus(); }
        break;
      case 'clock': syncClock(d.timeMs, d.offsetMs); break;
      default: break;
    }
  }

  function onEvent(kind, id, data) {
    let d;
    try { d = JSON.parse(data); } catch (_) { return; }
    if (id) lastId = id;
    if (kind === 'gap') {   /* a new stream that could not replay everything: reload now */
      addFeed(kind, d);
      reload();
      return;
    }
    if (kind === 'overflow') {   /* this stream ends: reload when the next one is open */
      addFeed(kind, d);
      lastId = null;
      reloadOnOpen = true;
      return;
    }
    if (loading) queued.push([kind, d]);
    else handle(kind, d);
  }

  function reload() {
    if (loading) return loading;
    queued = [];
    loading = loadAll().catch(e => notice(e.message, true)).finally(() => {
      loading = null;
      const q = queued;
      queued = [];
      for (const [k, d] of q) handle(k, d);   /* newer than the snapshot, or harmless to apply again */
    });
    return loading;
  }

  function setLive(on, text) {
    const b = $('#live');
    b.dataset.state = on ? 'on' : 'off';
    b.textContent = text;
  }

  function parseBlock(block) {
    let kind = 'message', id = null;
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
      if (field === 'event') kind = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length) onEvent(kind, id, data.join('\n'));
  }

  async function stream() {
    let first = true;
    for (;;) {
      try {
        const headers = authHeaders(lastId && !first ? { 'Last-Event-ID': lastId } : {});
        const res = await fetch('/__mock/events', { headers, cache: 'no-store' });
        if (res.status === 401) {
          await askToken(!!token);
          continue;
        }
        if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        let opened = false;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          if (!opened) {   /* subscribed: now the snapshots, so nothing falls between them and the events */
            opened = true;
            setLive(true, 'events: live');
            if (first || reloadOnOpen) reload();
            first = false;
            reloadOnOpen = false;
          }
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            parseBlock(block);
          }
        }
      } catch (e) {
        /* the server went away, or stopped: try again */
      }
      setLive(false, 'events: reconnecting');
      await sleep(1000);
    }
  }

  /* ------------------------------------------------------------------ wiring the page */

  function wire() {
    $('#status-form').addEventListener('submit', async e => {
      e.preventDefault();
      const want = $('#status-select').value;
      try {
        status = (await apiOk('PUT', '/__mock/status', { status: want })).status;
        renderStatus();
        notice(`Status set to ${status}.`);
      } catch (err) {
        notice(err.message, true);
      }
    });
    for (const b of document.querySelectorAll('[data-advance]')) b.addEventListener('click', () => advance(Number(b.dataset.advance)));
    $('#advance-form').addEventListener('submit', e => {
      e.preventDefault();
      const ms = Number($('#advance-ms').value);
      if (!Number.isInteger(ms) || ms < 0) { notice('Advance by a whole, non-negative number of milliseconds.', true); return; }
      advance(ms);
    });
    $('#forget').addEventListener('click', async () => {
      try {
        const r = await apiOk('POST', '/__mock/forget', {});
        notice(`Forgot ${r.removed} ephemeral instance(s), ${r.subscriptions} subscription(s), ${r.connections || 0} connection(s).`);
      } catch (e) {
        notice(e.message, true);
      }
    });
    let resetArmed = null;
    $('#reset').addEventListener('click', async () => {
      const b = $('#reset');
      if (!resetArmed) {   /* two steps: a reset throws the whole rehearsal away */
        b.textContent = 'Confirm reset';
        notice('Press "Confirm reset" to empty the registry and restore faults, journal, clock and status.');
        resetArmed = setTimeout(() => { resetArmed = null; b.textContent = 'Reset'; }, 5000);
        return;
      }
      clearTimeout(resetArmed);
      resetArmed = null;
      b.textContent = 'Reset';
      try {
        await apiOk('POST', '/__mock/reset', {});
        notice('Reset done.');
        reload();
      } catch (e) {
        notice(e.message, true);
      }
    });

    const preset = $('#fault-preset');
    preset.append(h('option', { value: '' }, 'choose a preset…'),
      ...PRESETS.map(([name], i) => h('option', { value: String(i) }, name)));
    preset.addEventListener('change', () => {
      if (preset.value === '') return;
      $('#fault-json').value = JSON.stringify(PRESETS[Number(preset.value)][1], null, 2);
      $('#fault-error').textContent = '';
    });
    $('#fault-hint').textContent = 'Needs "match" (with "api") and "action". The id is made up when absent.';
    $('#fault-form').addEventListener('submit', async e => {
      e.preventDefault();
      const text = $('#fault-json').value.trim();
      $('#fault-error').textContent = '';
      if (!text) { $('#fault-error').textContent = 'Choose a preset or write a rule first.'; return; }
      try { JSON.parse(text); } catch (err) { $('#fault-error').textContent = `Not JSON: ${err.message}`; return; }
      const r = await api('POST', '/__mock/faults', text);
      if (r.status !== 201) {
        $('#fault-error').textContent = (r.json && r.json.error) || `HTTP ${r.status}`;
        return;
      }
      notice(`Rule ${r.json.id} added.`);
      await loadFaults();
    });
    $('#faults-clear').addEventListener('click', async () => {
      try {
        await apiOk('DELETE', '/__mock/faults');
        notice('Every rule deleted.');
        await loadFaults();
      } catch (e) {
        notice(e.message, true);
      }
    });

    const kinds = $('#events-kinds');
    for (const k of KINDS) {
      const cb = h('input', { type: 'checkbox', checked: true, value: k });
      cb.addEventListener('change', () => {
        if (cb.checked) feed.hidden.delete(k); else feed.hidden.add(k);
        for (const li of document.querySelectorAll(`#events-list li[data-kind="${k}"]`)) li.hidden = !cb.checked;
      });
      kinds.append(h('label', {}, cb, ` ${k}`));
    }
    const toggle = (id, obj, after) => {
      const b = $(id);
      b.addEventListener('click', () => {
        obj.paused = !obj.paused;
        b.setAttribute('aria-pressed', String(obj.paused));
        b.textContent = obj.paused ? 'Resume' : 'Pause';
        if (after) after();
      });
    };
    toggle('#events-pause', feed);
    toggle('#requests-pause', journal, () => loadJournal(false));
    $('#events-clear').addEventListener('click', () => $('#events-list').replaceChildren());
    $('#requests-filter').addEventListener('submit', e => { e.preventDefault(); loadJournal(true); });
    $('#requests-clear').addEventListener('click', async () => {
      try { await apiOk('DELETE', '/__mock/requests'); await loadJournal(true); } catch (e) { notice(e.message, true); }
    });
    $('#registry-filter').addEventListener('input', renderRegistrySoon);
    $('#token-form').addEventListener('submit', () => {});   /* method=dialog closes it */
  }

  /* What no event announces: the journal (every request), beats (last beat times), hit counts of
   * rules that let requests through, the countdowns on screen. */
  function tick() {
    renderClock();
    const now = vnow();
    for (const td of document.querySelectorAll('#registry-body td[data-since]')) {
      td.textContent = `${dur(now - Number(td.dataset.since))} ago`;
    }
    for (const tr of document.querySelectorAll('#registry-body tr[data-instance]')) {
      const det = tr.closest('details.svc');
      const svc = service(det.dataset.ns, det.dataset.service, false);
      const i = svc && svc.instances.get(tr.dataset.instance);
      const cell = tr.querySelector('td[data-due]');
      if (!i || !cell || !i.ephemeral || i.connectionId) continue;
      const left = i.healthy ? i.lastBeatMs + i.heartBeatTimeoutMs - now : i.lastBeatMs + i.ipDeleteTimeoutMs - now;
      cell.textContent = i.healthy ? (left > 0 ? `UNHEALTHY in ${dur(left)}` : 'UNHEALTHY at the next sweep')
        : (left > 0 ? `removed in ${dur(left)}` : 'removed at the next sweep');
    }
  }

  async function start() {
    wire();
    try {   /* ask for the token before the first call when the server wants one */
      const cfg = await (await fetch('/__mock/ui/config.json', { cache: 'no-store' })).json();
      if (cfg.adminToken && !token) await askToken(false);
    } catch (_) { /* an older server: the first 401 asks */ }
    renderClock();
    setInterval(tick, 500);
    setInterval(() => { if (document.visibilityState === 'visible' && !loading) loadJournal(false).catch(() => {}); }, 1000);
    setInterval(() => {
      if (document.visibilityState !== 'visible' || loading) return;
      let n = 0;
      for (const m of registry.values()) for (const s of m.values()) n += s.instances.size;
      if (n <= 2000) loadRegistrySoon();   /* last beats; a large registry waits for events */
      loadFaultsSoon();
      loadConnectionsSoon();
    }, 5000);
    stream();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
