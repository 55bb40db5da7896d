// Usable at 1280 px and at 390 px wide (no sideways scrolling of the page,
// navigation and jobs table usable), with the keyboard alone, and the
// screenshots of the jobs list for docs/images/. Also checks that the
// console check itself catches a CSP violation.

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {NEVER, Server, assertNoHorizontalScroll, checkPage, hash, launchBrowser, newPage, openPage, rowCss,
  screenshot, textOf, until, visibleJobIds, withPage} from './lib/harness.js';

let server;
let browser;
const jobs = {};
before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
  // Fixed names, so that the screenshots stay meaningful.
  jobs.report = await server.createJob({name: 'nightly-report', description: 'builds the daily sales report',
    cron_expression: '30 2 * * *', timezone: 'America/New_York',
    executor: {command: {argv: ['echo report done; echo rows=1042'], shell: true}}});
  jobs.sync = await server.createJob({name: 'hourly-sync', description: 'pulls the partner feed',
    cron_expression: '@hourly', executor: {http: {method: 'POST', url: 'http://127.0.0.1:9/sync'}}});
  jobs.invoices = await server.createJob({name: 'invoice-export', cron_expression: '*/15 * * * *',
    timezone: 'Europe/Berlin', executor: {command: {argv: ['echo exported'], shell: true}}});
  jobs.cleanup = await server.createJob({name: 'weekly-cleanup', cron_expression: '0 4 * * 0', status: 'paused',
    executor: {command: {argv: ['true']}}});
  // Two that fire every 5 s, so the list shows last runs, one of each outcome.
  jobs.health = await server.createJob({name: 'health-check', cron_expression: '*/5 * * * * *',
    executor: {command: {argv: ['echo ok'], shell: true}}});
  jobs.upload = await server.createJob({name: 'flaky-upload', cron_expression: '*/5 * * * * *',
    executor: {command: {argv: ['echo upload refused >&2; exit 2'], shell: true}}});
  const run = await server.trigger(jobs.report);
  await until(async () => (await server.ok('GET', `/v1/executions/${run}`)).status === 'COMPLETED', 'a report run');
  await until(async () => (await server.getJob(jobs.health)).last_status === 'COMPLETED' &&
    (await server.getJob(jobs.upload)).last_status === 'FAILED', 'the last runs', 60_000);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const ALL = () => [jobs.report, jobs.sync, jobs.invoices, jobs.cleanup, jobs.health, jobs.upload];
const sorted = (a) => [...a].sort().join();

// Every page of the dashboard, each waited for.
async function everyPage(page, check) {
  await openPage(page, server, '/jobs');
  await until(async () => sorted(await visibleJobIds(page)) === sorted(ALL()), 'the jobs');
  await check('jobs');
  await openPage(page, server, `/jobs/${jobs.report}`);
  await until(async () => (await textOf(page, '#runs-table tbody') || '').includes('COMPLETED'), 'its run');
  await page.click('#runs-table [data-action="output"]');
  await until(async () => (await textOf(page, '#output-result') || '').includes('rows=1042'), 'its output');
  await check('job');
  await openPage(page, server, '/jobs/new');
  await page.waitForSelector('#job-form');
  await page.check('#f-executor-kind-http');
  await check('new job form');
  await openPage(page, server, `/jobs/${jobs.invoices}/edit`);
  await until(async () => (await page.inputValue('#f-name')) === 'invoice-export', 'the edit form');
  await check('edit form');
  await openPage(page, server, '/workers');
  await page.waitForSelector('.worker[data-worker-id="local"]');
  await check('workers');
  await openPage(page, server, '/queue');
  await until(async () => (await textOf(page, '#queue-table tbody') || '').includes('Nothing is waiting'), 'the queue');
  await check('queue');
}

test('at 1280 px: no page scrolls sideways', async () => {
  await withPage(browser, async (page) => {
    await everyPage(page, (what) => assertNoHorizontalScroll(page, `${what} at 1280 px`));
    await openPage(page, server, '/jobs');
    await until(async () => sorted(await visibleJobIds(page)) === sorted(ALL()), 'the jobs');
    await screenshot(page, 'jobs-list');
  }, {width: 1280, height: 720});
});

test('at 390 px: no page scrolls sideways; navigation, the jobs table and forms are usable', async () => {
  await withPage(browser, async (page) => {
    await page.setViewportSize({width: 390, height: 844});
    await everyPage(page, (what) => assertNoHorizontalScroll(page, `${what} at 390 px`));

    await openPage(page, server, '/jobs');
    await until(async () => sorted(await visibleJobIds(page)) === sorted(ALL()), 'the jobs');
    await screenshot(page, 'jobs-list-390', {fullPage: true});

    // Every navigation link is on screen and works.
    for (const nav of ['workers', 'queue', 'jobs']) {
      const box = await page.locator(`a[data-nav="${nav}"]`).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${nav} link at ${JSON.stringify(box)}`);
      await page.click(`a[data-nav="${nav}"]`);
      await until(async () => (await hash(page)) === `#/${nav}`, `the ${nav} page`);
    }
    await until(async () => (await visibleJobIds(page)).length === ALL().length, 'the jobs again');

    // The table scrolls inside its own box, within the screen, and a row's
    // buttons can be reached and used.
    const wrap = await page.evaluate(() => {
      const box = document.querySelector('#jobs-table').parentElement;
      const r = box.getBoundingClientRect();
      return {overflow: getComputedStyle(box).overflowX, left: r.left, right: r.right};
    });
    assert.ok(['auto', 'scroll'].includes(wrap.overflow), `the table's container: ${JSON.stringify(wrap)}`);
    assert.ok(wrap.left >= 0 && wrap.right <= 390, `the table's container: ${JSON.stringify(wrap)}`);
    const before = (await server.listRuns(jobs.cleanup)).length;
    await page.click(`${rowCss(jobs.cleanup)} [data-action="run"]`);
    await until(async () => (await server.listRuns(jobs.cleanup)).length === before + 1, 'run now, at 390 px');
    await until(async () => (await textOf(page, '#flash')).includes('Triggered'), 'its message');
    await assertNoHorizontalScroll(page, 'jobs at 390 px, table scrolled');

    // Form fields stack: each label above its control, each control within
    // the screen.
    await openPage(page, server, '/jobs/new');
    await page.waitForSelector('#job-form');
    const bad = await page.evaluate(() => [...document.querySelectorAll('#job-form .field')]
      .filter((f) => !f.closest('[hidden]')).flatMap((f) => {
        const label = f.querySelector('label').getBoundingClientRect();
        const control = f.querySelector('input, select, textarea').getBoundingClientRect();
        return label.bottom <= control.top + 1 && control.right <= window.innerWidth ? [] : [f.dataset.field];
      }));
    assert.deepEqual(bad, [], 'fields whose label is not above the control, or that leave the screen');
    await page.fill('#f-cron_expression', '61 * * * *');
    await until(() => textOf(page, '#err-cron_expression'), 'the cron error at 390 px');
    await assertNoHorizontalScroll(page, 'form with an error at 390 px');
  });
});

// Tabs forward until the focused element matches `css` (at most `max` presses).
async function tabTo(page, css, max = 60) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => Boolean(document.activeElement && document.activeElement.matches(s)), css)) return;
  }
  throw new Error(`${css} not reached with ${max} Tab presses`);
}

const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  return {id: el.id, action: el.dataset.action || '', row: (el.closest('tr') || {dataset: {}}).dataset.jobId || '',
    outline: getComputedStyle(el).outlineStyle};
});

test('keyboard only: skip link, navigation, search, pause and resume, delete dialog, form', async () => {
  await withPage(browser, async (page) => {
    const kbd = await server.createJob({name: 'kbd-job', cron_expression: NEVER});
    await openPage(page, server, '/jobs');
    await until(async () => (await visibleJobIds(page)).includes(kbd), 'the table');

    // The first Tab reaches the skip link, which moves the focus to the content.
    await page.keyboard.press('Tab');
    let f = await focused(page);
    assert.equal(f.id, 'skip-link');
    assert.notEqual(f.outline, 'none', 'a visible focus outline');
    assert.ok((await page.locator('#skip-link').boundingBox()).x >= 0, 'the skip link shows when focused');
    await page.keyboard.press('Enter');
    assert.equal((await focused(page)).id, 'main');

    // Search by typing.
    await tabTo(page, '#job-search');
    await page.keyboard.type('kbd');
    await until(async () => (await visibleJobIds(page)).join() === kbd, 'the search');

    // Pause with Space, and the focus stays on the row's button (now Resume)
    // across the redraw; resume with Enter.
    await tabTo(page, `${rowCss(kbd)} [data-action="pause"]`);
    assert.notEqual((await focused(page)).outline, 'none');
    await page.keyboard.press('Space');
    await until(async () => (await server.getJob(kbd)).status === 'PAUSED', 'paused');
    await until(async () => {
      const now = await focused(page);
      return now.row === kbd && now.action === 'resume';
    }, async () => `the focus on the Resume button (it is on ${JSON.stringify(await focused(page))})`);
    await page.keyboard.press('Enter');
    await until(async () => (await server.getJob(kbd)).status === 'ACTIVE', 'resumed');
    await until(async () => (await focused(page)).action === 'pause', 'the focus on Pause again');

    // Delete opens the confirmation with the focus on Cancel; Escape cancels.
    await tabTo(page, `${rowCss(kbd)} [data-action="delete"]`);
    await page.keyboard.press('Enter');
    await until(() => page.evaluate(() => document.getElementById('confirm-dialog').open), 'the confirmation');
    assert.equal((await focused(page)).id, 'confirm-cancel');
    await page.keyboard.press('Escape');
    await until(async () => !(await page.evaluate(() => document.getElementById('confirm-dialog').open)), 'closed');
    assert.equal((await server.request('GET', `/v1/jobs/${kbd}`)).status, 200);

    // The main navigation and the New job link, by keyboard.
    await tabTo(page, 'a[data-nav="workers"]', 80);  // wraps around to the header
    await page.keyboard.press('Enter');
    await until(async () => (await hash(page)) === '#/workers', 'the workers page');
    await tabTo(page, 'a[data-nav="jobs"]', 80);
    await page.keyboard.press('Enter');
    await until(async () => (await hash(page)) === '#/jobs', 'the jobs page');
    await page.waitForSelector('#new-job');
    await tabTo(page, '#new-job', 80);
    await page.keyboard.press('Enter');
    await until(async () => (await hash(page)) === '#/jobs/new', 'the form');

    // Fill the form and submit it with the keyboard alone.
    await tabTo(page, '#f-name', 80);
    await page.keyboard.type('typed-job');
    await tabTo(page, '#f-cron_expression');
    await page.keyboard.type('@daily');
    await tabTo(page, '#f-executor-kind-none');
    await page.keyboard.press('ArrowRight');  // radio group: the next kind, Command
    assert.equal(await page.evaluate(() => document.querySelector('#f-executor-kind-command').checked), true);
    await tabTo(page, '#f-executor-command-argv');
    await page.keyboard.type('/bin/true');
    await tabTo(page, '#job-submit', 80);
    await page.keyboard.press('Enter');
    const where = await until(async () => {
      const h = await hash(page);
      return /^#\/jobs\/[0-9a-f-]{36}$/.test(h) && h;
    }, 'the new job');
    const job = await server.getJob(where.split('/').pop());
    assert.equal(job.name, 'typed-job');
    assert.equal(job.cron_expression, '@daily');
    assert.deepEqual(job.executor.command.argv, ['/bin/true']);
  });
});

test('a Content-Security-Policy violation in the page fails the check', async () => {
  const page = await newPage(browser);
  await openPage(page, server, '/jobs');
  await page.waitForSelector('#jobs-table');
  // An inline script is refused by the page's policy.
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__ran = true';
    document.head.append(s);
  });
  await until(() => page.evaluate(() => (window.__cspViolations || []).length > 0), 'the violation event');
  assert.equal(await page.evaluate(() => window.__ran), undefined);
  await assert.rejects(checkPage(page), /script-src|Content Security Policy|CSP violation/);
});
