'use strict';
/*
 * console.test.js — the console (/__mock/ui/) in a real browser: Debian's headless Chromium driven
 * by puppeteer-core. Every wait is for a condition with a deadline (waitForSelector /
 * waitForFunction), never a fixed sleep.
 *
 *   - the page loads with no console error and asks nothing of any other origin;
 *   - a service registered by HTTP appears within a second, without a reload;
 *   - an instance that stops beating turns UNHEALTHY on screen when the clock is advanced from the page;
 *   - a preset fault added from the page makes the next register fail, and its hit count rises on screen;
 *   - status, forget and reset from the page, through the same /__mock/ calls a test uses;
 *   - keyboard use and labels; --admin-token asked for once, kept in the session, never in a URL;
 *   - screenshots of the main views into $NM_UI_SCREENSHOTS (for the README).
 */
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const puppeteer = require('puppeteer-core');
const { startMock } = require('../interop/lib.js');

const SHOTS = process.env.NM_UI_SCREENSHOTS || path.join(__dirname, '..', '..', 'build', 'screenshots');
let browser;
let profile;

before(async () => {
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nacos-mock-ui-'));
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    // as root, and without the network Chromium would otherwise reach for at every start
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  if (browser) await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
});

/* A page on the mock that records console errors, page errors and every URL it asks for. */
async function openConsole(mock, { width = 1440, height = 900 } = {}) {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  const problems = [];
  const urls = [];
  page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', e => problems.push(`page error: ${e.message}`));
  page.on('request', r => urls.push(r.url()));
  page.on('requestfailed', r => {
    if (!r.url().endsWith('/__mock/events')) problems.push(`failed: ${r.url()} ${r.failure() && r.failure().errorText}`);
  });
  await page.goto(`${mock.url}/__mock/ui/`, { waitUntil: 'load' });
  return { page, problems, urls };
}

const live = page => page.waitForFunction(() => document.querySelector('#live').dataset.state === 'on', { timeout: 5000 });
const register = (mock, form) => mock.http('POST', '/nacos/v1/ns/instance', form);
const row = (ip, port) => `tr[data-instance="DEFAULT|${ip}|${port}"]`;
const svcSel = name => `details.svc[data-service="DEFAULT_GROUP@@${name}"]`;

function assertClean(c, origin) {
  assert.deepEqual(c.problems, []);
  const foreign = c.urls.filter(u => !u.startsWith(origin) && !u.startsWith('data:'));
  assert.deepEqual(foreign, [], 'the page asked for nothing outside the mock');
}

test('watch and steer a rehearsal from the page', async () => {
  const mock = await startMock(['--beat-interval-ms', '5000']);
  try {
    const c = await openConsole(mock);
    const { page } = c;
    await live(page);

    // a service registered by HTTP appears within a second, without a reload
    const t0 = Date.now();
    assert.equal((await register(mock, { serviceName: 'orders', ip: '10.0.0.1', port: '8080', metadata: 'version=1.4,zone=a' })).status, 200);
    await page.waitForSelector(svcSel('orders'), { timeout: 1000 });
    const seenMs = Date.now() - t0;
    assert.ok(seenMs <= 1000, `seen after ${seenMs} ms`);

    // keyboard: the service opens from its summary with Enter
    await page.focus(`${svcSel('orders')} > summary`);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`${svcSel('orders')}[open] ${row('10.0.0.1', 8080)}[data-health="HEALTHY"]`, { timeout: 2000 });
    const cells = await page.$eval(row('10.0.0.1', 8080), tr => [...tr.cells].map(td => td.textContent));
    assert.match(cells[6], /UNHEALTHY in 1\d\.\d s|UNHEALTHY in [5-9]\.\d s/);
    assert.match(cells[7], /version=1\.4/);

    // it never beats: the clock advanced from the page turns it UNHEALTHY on screen
    await page.click('button[data-advance="16000"]');
    await page.waitForSelector(`${row('10.0.0.1', 8080)}[data-health="UNHEALTHY"]`, { timeout: 3000 });
    await page.waitForFunction(() => /HEALTHY → UNHEALTHY/.test(document.querySelector('#events-list').textContent),
      { timeout: 2000 });
    await page.waitForFunction(() => /1 health change/.test(document.querySelector('#notice').textContent), { timeout: 2000 });

    // a preset from the cookbook: the next register fails, and the rule's hits rise on screen
    await page.select('#fault-preset', '0');
    assert.match(await page.$eval('#fault-json', t => t.value), /"status": 500/);
    await page.click('#fault-add');
    await page.waitForSelector('#faults-body tr[data-fault] td[data-hits="0"]', { timeout: 2000 });
    assert.equal((await register(mock, { serviceName: 'orders', ip: '10.0.0.2', port: '8080' })).status, 500);
    await page.waitForFunction(() => {
      const td = document.querySelector('#faults-body tr[data-fault] td[data-hits]');
      return td && td.textContent === '1';
    }, { timeout: 3000 });
    await page.waitForFunction(() => /rule fault-\d+ fired on register/.test(document.querySelector('#events-list').textContent),
      { timeout: 2000 });

    // more of a rehearsal, for the screenshots: a second service, a persistent instance, a beat
    await register(mock, { serviceName: 'orders', ip: '10.0.0.3', port: '8080' });   // spends the rule's second hit
    await register(mock, { serviceName: 'orders', ip: '10.0.0.3', port: '8080', metadata: 'version=1.5,zone=b' });
    await register(mock, { serviceName: 'payments', ip: '10.0.1.1', port: '9090', groupName: 'billing', weight: '2' });
    await register(mock, { serviceName: 'payments', ip: '10.0.1.2', port: '9090', groupName: 'billing', ephemeral: 'false' });
    await mock.http('PUT', '/nacos/v1/ns/instance/beat', { serviceName: 'orders', ip: '10.0.0.3', port: '8080' });
    await mock.http('GET', '/nacos/v1/ns/instance/list', { serviceName: 'orders' });
    await page.waitForSelector('details.svc[data-service="billing@@payments"]', { timeout: 2000 });
    await page.waitForSelector(row('10.0.0.3', 8080), { timeout: 2000 });
    await page.click('details.svc[data-service="billing@@payments"] > summary');
    await page.waitForFunction(() => document.querySelectorAll('#requests-body tr').length >= 5, { timeout: 3000 });

    // status from the page
    await page.select('#status-select', 'DOWN');
    await page.click('#status-set');
    await page.waitForFunction(() => /status UP → DOWN/.test(document.querySelector('#events-list').textContent), { timeout: 2000 });
    assert.equal((await mock.http('GET', '/__mock/status')).json().status, 'DOWN');
    await page.select('#status-select', 'UP');
    await page.click('#status-set');
    await page.waitForFunction(() => /status DOWN → UP/.test(document.querySelector('#events-list').textContent), { timeout: 2000 });

    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'console.png') });
    await (await page.$('#registry')).screenshot({ path: path.join(SHOTS, 'console-registry.png') });
    await (await page.$('#faults')).screenshot({ path: path.join(SHOTS, 'console-faults.png') });
    await (await page.$('#events')).screenshot({ path: path.join(SHOTS, 'console-events.png') });
    await (await page.$('#requests')).screenshot({ path: path.join(SHOTS, 'console-requests.png') });

    // labels and names: every control says what it is
    const unnamed = await page.evaluate(() => {
      const bad = [];
      for (const el of document.querySelectorAll('input, select, textarea')) {
        if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) bad.push(el.outerHTML.slice(0, 80));
      }
      for (const b of document.querySelectorAll('button')) {
        if (!b.textContent.trim() && !b.getAttribute('aria-label')) bad.push(b.outerHTML.slice(0, 80));
      }
      return bad;
    });
    assert.deepEqual(unnamed, []);

    // forget, then reset (two steps), from the page
    await page.click('#forget');
    await page.waitForFunction(() => /Forgot \d+ ephemeral/.test(document.querySelector('#notice').textContent), { timeout: 2000 });
    await page.waitForFunction(sel => !document.querySelector(sel), { timeout: 2000 }, row('10.0.0.3', 8080));
    await page.click('#reset');
    await page.waitForFunction(() => document.querySelector('#reset').textContent === 'Confirm reset', { timeout: 1000 });
    await page.click('#reset');
    await page.waitForFunction(() => /No services yet/.test(document.querySelector('#registry-body').textContent) &&
      /No rules/.test(document.querySelector('#faults-body').textContent), { timeout: 3000 });

    assertClean(c, mock.url);

    // a bad rule is refused with the server's message, naming the field (the one error the page logs)
    await page.$eval('#fault-json', t => { t.value = '{"match":{"api":"register"}}'; });
    await page.click('#fault-add');
    await page.waitForFunction(() => /action/.test(document.querySelector('#fault-error').textContent), { timeout: 2000 });
    assert.deepEqual(c.problems, ['console: Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await page.close();
  } finally {
    assert.equal(await mock.stop(), 0);
  }
});

test('--admin-token: asked once, kept in the session, never in a URL', async () => {
  const mock = await startMock(['--admin-token', 's3cret-token']);
  try {
    const c = await openConsole(mock);
    const { page } = c;
    await page.waitForSelector('#token-dialog[open]', { timeout: 3000 });
    await page.type('#token-input', 's3cret-token');
    await page.keyboard.press('Enter');
    await live(page);
    await register(mock, { serviceName: 'guarded', ip: '10.0.0.9', port: '1' });
    await page.waitForSelector(svcSel('guarded'), { timeout: 2000 });
    assert.equal(await page.$eval('#token-dialog', d => d.open), false);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('nacos-mock-admin-token')), 's3cret-token');
    // a reload keeps it: no second question
    await page.reload({ waitUntil: 'load' });
    await live(page);
    await page.waitForSelector(svcSel('guarded'), { timeout: 2000 });
    assert.equal(await page.$eval('#token-dialog', d => d.open), false);
    assert.deepEqual(c.urls.filter(u => u.includes('s3cret')), []);
    assertClean(c, mock.url);
    await page.close();
  } finally {
    assert.equal(await mock.stop(), 0);
  }
});
