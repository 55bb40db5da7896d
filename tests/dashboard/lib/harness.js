// What every dashboard test file needs: a real `dts server` (started on free
// ports with a fresh data dir, stopped with SIGTERM), its HTTP API, Debian's
// headless chromium driven by playwright-core, and polling waits with
// deadlines. Nothing sleeps to wait for a state; nothing depends on speed
// beyond the deadlines, which are generous enough for the ASan build.

import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {inspect} from 'node:util';
import {setTimeout as sleep} from 'node:timers/promises';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '..', '..', '..');
export const DTS = process.env.DTS_BINARY || join(REPO, 'build', 'dts');
export const CHROMIUM = process.env.DTS_CHROMIUM || '/usr/bin/chromium';
export const IMAGES = join(REPO, 'docs', 'images');

export const WAIT = 30_000;      // anything the UI should show (ASan builds are slow)
export const LIVE_WAIT = 10_000; // the page polls every 2 s: a change shows within this
export const NEVER = '0 0 1 1 *';
export const EVERY_SECOND = '* * * * * *';
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export {sleep};

// ---------------------------------------------------------------- waiting

// Calls fn() until it returns something truthy and returns that; an
// exception counts as "not yet" (an element that a redraw replaced). Fails
// after `timeout` ms with the last value or error. `what` names the state
// (a function: called then, to describe the page).
export async function until(fn, what, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      if (e && e.fatal) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      const said = typeof what === 'function' ? await what().catch((e) => `? (${e.message})`) : what;
      throw new Error(`timed out after ${timeout} ms waiting for ${said}; last: ${inspect(last, {depth: 4})}`);
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------- the server

// Every server's worker has the same size whatever the machine; `args` may
// override these.
const WORKER_DEFAULTS = [['--worker-cpu', '8000'], ['--worker-memory', '16384']];
const running = new Set();

function killAll() {
  for (const server of running) {
    try { server.proc.kill('SIGKILL'); } catch { /* gone */ }
    try { rmSync(server.dir, {recursive: true, force: true}); } catch { /* a file still open */ }
  }
}
// Nothing is left running, whatever happens to this process.
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { killAll(); process.exit(128 + ({SIGINT: 2, SIGTERM: 15, SIGHUP: 1})[sig]); });
}

export class Server {
  // Starts `dts server` and waits for its ready file.
  static async start({args = [], env = {}} = {}) {
    if (!existsSync(DTS)) throw new Error(`${DTS} is missing: build it (cmake --build build) or set DTS_BINARY`);
    const dir = mkdtempSync(join(tmpdir(), 'dts-dashboard-'));
    const server = new Server(dir);
    const defaults = WORKER_DEFAULTS.filter(([flag]) => !args.includes(flag)).flat();
    const fd = openSync(server.logFile, 'w');
    server.proc = spawn(DTS, ['server', '--data-dir', join(dir, 'data'), '--grpc-addr', '127.0.0.1:0',
      '--http-addr', '127.0.0.1:0', '--ready-file', server.readyFile, ...defaults, ...args],
    {stdio: ['ignore', fd, fd], env: {...process.env, ...env}});
    closeSync(fd);
    running.add(server);
    server.exited = new Promise((done) => server.proc.on('exit', (code, signal) => {
      running.delete(server);
      server.exitCode = code ?? signal;
      done(server.exitCode);
    }));
    try {
      await until(() => {
        if (server.exitCode !== undefined) throw Object.assign(new Error('exited'), {fatal: true});
        return existsSync(server.readyFile) && readFileSync(server.readyFile, 'utf8').trim();
      }, 'the server to be ready', 60_000);
    } catch (e) {
      await server.stop().catch(() => {});
      throw new Error(`dts server did not become ready (exit ${server.exitCode}): ${e.message}\n${server.log()}`);
    }
    const ready = JSON.parse(readFileSync(server.readyFile, 'utf8'));
    server.baseUrl = `http://${ready.http}`;
    return server;
  }

  constructor(dir) {
    this.dir = dir;
    this.readyFile = join(dir, 'ready.json');
    this.logFile = join(dir, 'server.log');
    this.headers = {};
  }

  log() {
    try { return readFileSync(this.logFile, 'utf8').slice(-8000); } catch { return ''; }
  }

  // SIGTERM, then SIGKILL after 30 s; removes the temp dir. Fails unless
  // the server exits 0 (a sanitizer report makes the ASan build exit 1).
  async stop() {
    if (this.proc && this.exitCode === undefined) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 30_000);
      await this.exited;
      clearTimeout(timer);
    }
    const log = this.exitCode === 0 ? '' : this.log();
    rmSync(this.dir, {recursive: true, force: true});
    if (this.proc && this.exitCode !== 0) {
      throw new Error(`dts server exited with ${this.exitCode}:\n${log}`);
    }
    return this.exitCode;
  }

  // {status, body (parsed JSON, or text), headers} of one API call.
  async request(method, path, body, headers = {}) {
    const response = await fetch(this.baseUrl + path, {method,
      headers: {'Content-Type': 'application/json', ...this.headers, ...headers},
      body: body === undefined ? undefined : JSON.stringify(body)});
    const text = await response.text();
    let parsed = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return {status: response.status, body: parsed, headers: response.headers};
  }

  async ok(method, path, body) {
    const r = await this.request(method, path, body);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${inspect(r.body)}`);
    return r.body;
  }

  async createJob(fields) {
    return (await this.ok('POST', '/v1/jobs', {name: 'job', ...fields})).job_id;
  }

  getJob(id) { return this.ok('GET', `/v1/jobs/${id}`); }

  async trigger(id) { return (await this.ok('POST', `/v1/jobs/${id}/run`)).execution_id; }

  // Every run of a job (or of all jobs), paged through.
  async listRuns(jobId) {
    const runs = [];
    let last = '';
    do {
      const q = [`page_size=1000`, jobId ? `job_id=${jobId}` : '', last ? `last_id=${last}` : ''].filter(Boolean);
      const page = await this.ok('GET', `/v1/executions?${q.join('&')}`);
      runs.push(...(page.executions || []));
      last = page.next_page || '';
    } while (last);
    return runs;
  }
}

// ---------------------------------------------------------------- the browser

let chromium;
async function playwright() {
  if (!chromium) {
    try {
      ({chromium} = await import('playwright-core'));
    } catch (e) {
      throw new Error(`playwright-core is missing: run scripts/install-node-deps.sh (${e.message})`);
    }
  }
  return chromium;
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/install-deps.sh (chromium)`);
  const pw = await playwright();
  return pw.launch({executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu']});
}

// A fresh tab (own context: no sessionStorage carried over) at 1280 px that
// records script errors and Content-Security-Policy violations; checkPage()
// fails the test on any. Refused API calls (4xx) log "Failed to load
// resource", which the tests cause on purpose: those are not problems.
export async function newPage(browser, {width = 1280, height = 800} = {}) {
  const context = await browser.newContext({viewport: {width, height}, locale: 'en-GB', timezoneId: 'UTC',
    reducedMotion: 'reduce'});
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (msg) => {
    if ((msg.type() === 'error' || msg.type() === 'warning') &&
        !msg.text().startsWith('Failed to load resource')) {
      if (msg.type() === 'error' || /Content.Security.Policy|Refused to/i.test(msg.text())) {
        page.problems.push(`console ${msg.type()}: ${msg.text()}`);
      }
    }
  });
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  // CSP violations are also reported to the page as events: count them
  // (the listener is added by the browser, not as an inline script).
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__cspViolations ||= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return page;
}

export async function checkPage(page) {
  const csp = await page.evaluate(() => window.__cspViolations || []).catch(() => []);
  const problems = [...page.problems, ...csp.map((v) => `CSP violation: ${v}`)];
  await page.context().close();
  if (problems.length) throw new Error(`the browser reported problems:\n${problems.join('\n')}`);
}

export async function openPage(page, server, route) {
  await page.goto(`${server.baseUrl}/#${route}`, {waitUntil: 'load'});
}

// The visible text of the first element matching `css`, or null.
export function textOf(page, css) {
  return page.evaluate((s) => {
    const el = document.querySelector(s);
    return el ? el.innerText : null;
  }, css);
}

export function attrOf(page, css, name) {
  return page.evaluate(([s, n]) => {
    const el = document.querySelector(s);
    return el ? el.getAttribute(n) : undefined;
  }, [css, name]);
}

export function count(page, css) {
  return page.evaluate((s) => document.querySelectorAll(s).length, css);
}

export function texts(page, css) {
  return page.evaluate((s) => [...document.querySelectorAll(s)].map((e) => e.innerText), css);
}

export function hash(page) {
  return page.evaluate(() => location.hash);
}

export const rowCss = (jobId) => `#jobs-table tr[data-job-id="${jobId}"]`;

export function visibleJobIds(page) {
  return page.evaluate(() => [...document.querySelectorAll('#jobs-table tbody tr[data-job-id]')]
    .map((tr) => tr.dataset.jobId));
}

export const sameSet = (a, b) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

// Saves docs/images/<name>.png (overwritten every run). DTS_SCREENSHOTS=0
// turns it off.
export async function screenshot(page, name, options = {}) {
  if (process.env.DTS_SCREENSHOTS === '0') return;
  mkdirSync(IMAGES, {recursive: true});
  // No caret blinking or focus ring from the test in the picture.
  await page.evaluate(() => document.activeElement && document.activeElement.blur && document.activeElement.blur());
  await page.screenshot({path: join(IMAGES, `${name}.png`), animations: 'disabled', caret: 'hide', ...options});
}

// Fails unless the page body does not scroll sideways.
export async function assertNoHorizontalScroll(page, what) {
  const m = await page.evaluate(() => ({scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth, body: document.body.scrollWidth}));
  if (m.scroll > m.client || m.body > m.client) {
    const wide = await page.evaluate(() => {
      const limit = document.documentElement.clientWidth;
      return [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > limit + 0.5)
        .slice(0, 8).map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} right=${Math.round(el.getBoundingClientRect().right)}`);
    });
    throw new Error(`${what}: the page scrolls sideways (scrollWidth ${m.scroll} > clientWidth ${m.client}); too wide: ${wide.join(', ')}`);
  }
}

export function parseTime(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`not a timestamp: ${iso}`);
  return t;
}

// Runs fn(page) in a fresh tab and then fails on any script error or CSP
// violation the browser reported; the tab is closed either way.
export async function withPage(browser, fn, options) {
  const page = await newPage(browser, options);
  try {
    await fn(page);
  } catch (e) {
    if (page.problems.length) e.message += `\nthe browser also reported:\n${page.problems.join('\n')}`;
    await page.context().close().catch(() => {});
    throw e;
  }
  await checkPage(page);
}
