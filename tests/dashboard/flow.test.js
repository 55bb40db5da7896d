// The tracker issue's flow, in one test: create a job through the form
// (every second, a command that prints), watch it fire on its page without a
// reload, read the run's output in the viewer, pause it and see that nothing
// scheduled after the pause runs, then view the workers page.

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {EVERY_SECOND, LIVE_WAIT, Server, WAIT, assertNoHorizontalScroll, attrOf, count, hash,
  launchBrowser, openPage, parseTime, screenshot, sleep, textOf, until, withPage} from './lib/harness.js';

let server;
let browser;
before(async () => {
  server = await Server.start({args: ['--worker-label', 'zone=z']});
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// [{id, status, scheduled}] of the run rows the page shows.
const shownRuns = (page) => page.evaluate(() => [...document.querySelectorAll('#runs-table tbody tr[data-run-id]')]
  .map((tr) => ({id: tr.dataset.runId, status: tr.querySelector('.run-status').innerText.trim(),
    scheduled: (tr.children[1].querySelector('time') || {}).dateTime || ''})));

test('create a job in the form, watch it fire, open its output, pause it, view the workers', async () => {
  await withPage(browser, async (page) => {
    // Create it through the form.
    await openPage(page, server, '/jobs');
    await page.click('#new-job');
    await until(async () => (await textOf(page, '#form-title')) === 'New job', 'the form');
    await page.fill('#f-name', 'hello-every-second');
    await page.fill('#f-description', 'prints a greeting every second');
    await page.fill('#f-cron_expression', EVERY_SECOND);
    await until(async () => (await count(page, '#cron-preview li')) === 5, 'the next 5 fire times');
    await page.check('#f-executor-kind-command');
    await page.fill('#f-executor-command-argv', '/bin/echo\nhello from the dashboard');
    await page.click('#job-submit');
    const where = await until(async () => {
      const h = await hash(page);
      return /^#\/jobs\/[0-9a-f-]{36}$/.test(h) && h;
    }, "the new job's page");
    const jobId = where.split('/').pop();
    await until(async () => (await textOf(page, '#job-title') || '').includes('hello-every-second'), 'its title');
    const job = await server.getJob(jobId);
    assert.equal(job.cron_expression, EVERY_SECOND);
    assert.deepEqual(job.executor.command.argv, ['/bin/echo', 'hello from the dashboard']);
    assert.equal(job.status, 'ACTIVE');
    await page.evaluate(() => { window.__noReload = 'still here'; });

    // Watch it fire: completed runs appear on the page by themselves.
    const runId = await until(async () => {
      const done = (await shownRuns(page)).filter((r) => r.status === 'COMPLETED');
      return done.length >= 2 && done[done.length - 1].id;
    }, 'two completed runs on the page', LIVE_WAIT + WAIT);
    assert.equal(await page.evaluate(() => window.__noReload), 'still here');

    // Open the output of the oldest one.
    await page.click(`#runs-table tr[data-run-id="${runId}"] [data-action="output"]`);
    await until(async () => (await textOf(page, '#output-result') || '').includes('hello from the dashboard'),
      'the output in the viewer');
    assert.equal((await textOf(page, '#output-result')).trim(), 'hello from the dashboard');
    assert.equal(await textOf(page, '#output-exit'), '0');
    assert.match(await textOf(page, '#output-title'), new RegExp(runId));
    assert.equal(await attrOf(page, `#runs-table tr[data-run-id="${runId}"] [data-action="output"]`, 'aria-pressed'), 'true');
    const run = await server.ok('GET', `/v1/executions/${runId}`);
    assert.equal(run.result, 'hello from the dashboard\n');
    assert.equal(run.trigger, 'SCHEDULE');

    // Pause it from the page. A fire that came due while the request was in
    // flight may still be recorded; nothing scheduled after the answer may.
    const answer = page.waitForResponse((r) => r.url().endsWith(`/v1/jobs/${jobId}/pause`) &&
      r.request().method() === 'POST');
    await page.click('.page-head [data-action="pause"]');
    assert.equal((await answer).status(), 200);
    const pausedAt = Date.now();
    await until(async () => (await textOf(page, '#job-title') || '').includes('PAUSED'), 'PAUSED on the page',
      LIVE_WAIT);
    await page.waitForSelector('.page-head [data-action="resume"]');
    assert.equal((await server.getJob(jobId)).status, 'PAUSED');
    const before = await server.listRuns(jobId);

    // Stay paused over at least two scheduled seconds, then let the page
    // poll again and compare what it shows with the API.
    await sleep(2500);
    const during = await server.listRuns(jobId);
    for (const r of during) {
      assert.ok(parseTime(r.scheduled_time) <= pausedAt, `fired while paused: ${r.scheduled_time} > ${new Date(pausedAt).toISOString()}`);
    }
    assert.ok(during.length <= before.length + 1, `${during.length} runs after ${before.length}`);
    const shown = await until(async () => {
      const rows = await shownRuns(page);
      return rows.length === during.length && rows.every((r) => !['PENDING', 'RUNNING', 'QUEUED'].includes(r.status)) && rows;
    }, 'the page to show every run, finished', LIVE_WAIT + WAIT);
    for (const r of shown) {
      assert.ok(r.scheduled && parseTime(r.scheduled) <= pausedAt, `the page shows a run scheduled after the pause: ${r.scheduled}`);
    }
    // The output stays open across the live redraws.
    assert.ok((await textOf(page, '#output-result')).includes('hello from the dashboard'));
    await assertNoHorizontalScroll(page, 'job page at 1280 px');
    await screenshot(page, 'job-detail', {fullPage: true});

    // The workers page.
    await page.click('a[data-nav="workers"]');
    const worker = '.worker[data-worker-id="local"]';
    await until(async () => (await textOf(page, worker) || '').includes('READY'), 'the local worker');
    assert.equal(await attrOf(page, `${worker} .bar-row[data-dimension="cpu"] meter`, 'data-capacity'), '8000');
    assert.equal(await attrOf(page, `${worker} .bar-row[data-dimension="memory"] meter`, 'data-capacity'), '16384');
    assert.equal(await attrOf(page, 'a[data-nav="workers"]', 'aria-current'), 'page');
    assert.match(await textOf(page, worker), /zone=z/);
    await until(async () => (await textOf(page, `${worker} .running-count`)) === '0', 'nothing running');
    await assertNoHorizontalScroll(page, 'workers at 1280 px');
  });
});
