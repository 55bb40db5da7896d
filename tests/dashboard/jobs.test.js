// The jobs table: schedule with the next fires, filter and search, pause,
// resume, run now, delete with confirmation, edit; live updates.

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {EVERY_SECOND, LIVE_WAIT, NEVER, Server, WAIT, attrOf, hash, launchBrowser, openPage, rowCss, sameSet,
  textOf, texts, until, visibleJobIds, withPage} from './lib/harness.js';

let server;
let browser;
before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const dialogOpen = (page, id) => page.evaluate((s) => document.getElementById(s).open, id);

test('the jobs table: schedule, filter, search, pause, resume, run now, delete, edit', async () => {
  await withPage(browser, async (page) => {
    const alpha1 = await server.createJob({name: 'alpha-one', cron_expression: '*/5 * * * *', timezone: 'Europe/Berlin'});
    const alpha2 = await server.createJob({name: 'alpha-two', cron_expression: '@hourly', status: 'paused'});
    const beta = await server.createJob({name: 'beta', cron_expression: NEVER});
    await openPage(page, server, '/jobs');
    await until(async () => sameSet(await visibleJobIds(page), [alpha1, alpha2, beta]), 'three rows');

    // Name, status, schedule with the next 3 fires in the job's zone, next run.
    const row = await textOf(page, rowCss(alpha1));
    for (const s of ['alpha-one', 'ACTIVE', '*/5 * * * *']) assert.ok(row.includes(s), s);
    const fires = await texts(page, `${rowCss(alpha1)} .job-schedule li`);
    assert.equal(fires.length, 3, fires);
    for (const f of fires) assert.match(f, /[+-]0[12]:00$/);
    assert.equal(await attrOf(page, `${rowCss(alpha1)} .job-next time`, 'datetime'), (await server.getJob(alpha1)).next_run);
    assert.match(await textOf(page, `${rowCss(alpha1)} .job-last`), /never run/);
    assert.match(await textOf(page, `${rowCss(alpha2)} .job-next`), /—/);  // paused: no next run

    await page.fill('#job-search', 'ALPHA');
    await until(async () => sameSet(await visibleJobIds(page), [alpha1, alpha2]), 'search by name');
    await page.selectOption('#status-filter', 'PAUSED');
    await until(async () => sameSet(await visibleJobIds(page), [alpha2]), 'status filter');
    await page.fill('#job-search', 'beta');
    await until(async () => (await textOf(page, '#jobs-table tbody')).includes('No job matches'), 'nothing matches');
    await page.selectOption('#status-filter', '');
    await until(async () => sameSet(await visibleJobIds(page), [beta]), 'beta alone');

    // Pause, resume, trigger.
    await page.click(`${rowCss(beta)} [data-action="pause"]`);
    await until(async () => (await server.getJob(beta)).status === 'PAUSED', 'paused in the API');
    await until(async () => (await textOf(page, `${rowCss(beta)} .job-status`)).includes('PAUSED'), 'paused in the table');
    await page.click(`${rowCss(beta)} [data-action="resume"]`);
    await until(async () => (await server.getJob(beta)).status === 'ACTIVE', 'resumed in the API');
    await until(async () => (await textOf(page, `${rowCss(beta)} .job-status`)).includes('ACTIVE'), 'resumed in the table');
    await page.click(`${rowCss(beta)} [data-action="run"]`);
    const runs = await until(async () => {
      const r = await server.listRuns(beta);
      return r.length && r;
    }, 'the manual run');
    assert.equal(runs.length, 1);
    assert.equal(runs[0].trigger, 'MANUAL');
    await until(async () => (await textOf(page, '#flash')).includes('Triggered'), "the trigger's message");

    // Delete asks first; Cancel keeps the job.
    await page.click(`${rowCss(beta)} [data-action="delete"]`);
    await until(() => dialogOpen(page, 'confirm-dialog'), 'the confirmation');
    assert.match(await textOf(page, '#confirm-text'), /beta/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-cancel');
    await page.click('#confirm-cancel');
    await until(async () => !(await dialogOpen(page, 'confirm-dialog')), 'dialog closed');
    assert.equal((await server.request('GET', `/v1/jobs/${beta}`)).status, 200);
    await page.click(`${rowCss(beta)} [data-action="delete"]`);
    await until(() => dialogOpen(page, 'confirm-dialog'), 'the confirmation');
    await page.click('#confirm-ok');
    await until(async () => (await server.request('GET', `/v1/jobs/${beta}`)).status === 404, 'deleted in the API');
    await until(async () => !(await visibleJobIds(page)).includes(beta), 'row gone');

    // Edit: the form comes filled in; a change is saved.
    await page.fill('#job-search', '');
    await page.click(`${rowCss(alpha1)} [data-action="edit"]`);
    await until(async () => (await page.inputValue('#f-name')) === 'alpha-one', 'the filled form');
    assert.equal(await page.inputValue('#f-timezone'), 'Europe/Berlin');
    await page.fill('#f-description', 'edited');
    await page.fill('#f-cron_expression', '*/10 * * * *');
    await page.click('#job-submit');
    await until(async () => (await hash(page)) === `#/jobs/${alpha1}`, 'back on the job');
    const job = await server.getJob(alpha1);
    assert.equal(job.description, 'edited');
    assert.equal(job.cron_expression, '*/10 * * * *');
    assert.equal(job.timezone, 'Europe/Berlin');
    assert.equal(job.name, 'alpha-one');
  });
});

test('the jobs table updates live, without a reload', async () => {
  await withPage(browser, async (page) => {
    await openPage(page, server, '/jobs');
    await until(async () => (await visibleJobIds(page)).length >= 1, 'the table');
    const already = await visibleJobIds(page);
    await page.evaluate(() => { window.__noReload = 'still here'; });
    // Fires every second, so its last run and status change under the page.
    const jobId = await server.createJob({name: 'made-elsewhere', cron_expression: EVERY_SECOND});
    await until(async () => sameSet(await visibleJobIds(page), [...already, jobId]), 'the new job', LIVE_WAIT);
    const last = await until(() => attrOf(page, `${rowCss(jobId)} .job-last time`, 'datetime'), 'its last run',
      LIVE_WAIT + WAIT);
    assert.match(await textOf(page, `${rowCss(jobId)} .job-last .badge`), /COMPLETED|RUNNING/);
    await until(async () => {
      const now = await attrOf(page, `${rowCss(jobId)} .job-last time`, 'datetime');
      return now && now !== last;
    }, 'a later run', LIVE_WAIT + WAIT);
    assert.equal((await server.request('POST', `/v1/jobs/${jobId}/pause`)).status, 200);
    await until(async () => (await textOf(page, `${rowCss(jobId)} .job-status`)).includes('PAUSED'), 'paused, live',
      LIVE_WAIT);
    assert.equal(await page.evaluate(() => window.__noReload), 'still here');
  });
});
