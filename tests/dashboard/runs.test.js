// A job's run history and the output viewer; runs triggered elsewhere show
// up by themselves.

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {LIVE_WAIT, NEVER, Server, attrOf, count, launchBrowser, openPage, textOf, until,
  withPage} from './lib/harness.js';

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

test('run history, output viewer and live updates', async () => {
  await withPage(browser, async (page) => {
    const jobId = await server.createJob({name: 'noisy', cron_expression: NEVER,
      executor: {command: {argv: ['echo out-$((40+2)); echo oops >&2; exit 3'], shell: true}}});
    await openPage(page, server, `/jobs/${jobId}`);
    await until(async () => (await textOf(page, '#runs-table tbody') || '').includes('No runs yet'), 'an empty history');
    await page.evaluate(() => { window.__noReload = 'still here'; });

    // A run started from the page.
    await page.click('.page-head [data-action="run"]');
    const [first] = await until(async () => {
      const r = await server.listRuns(jobId);
      return r.length && r;
    }, 'the first run');
    const firstRow = `#runs-table tr[data-run-id="${first.id}"]`;
    await until(async () => (await textOf(page, `${firstRow} .run-status`) || '').includes('FAILED'), 'the run failed');
    assert.match(await attrOf(page, `${firstRow} .badge`, 'class'), /status-FAILED/);
    const cells = await textOf(page, firstRow);
    assert.ok(cells.includes('MANUAL') && cells.includes('local'), cells);
    assert.equal(await textOf(page, `${firstRow} .run-attempt`), '1');

    await page.click(`${firstRow} [data-action="output"]`);
    await until(async () => (await textOf(page, '#output-result') || '').includes('out-42'), 'the captured output');
    assert.ok((await textOf(page, '#output-result')).includes('oops'));
    assert.equal(await textOf(page, '#output-exit'), '3');
    const error = await textOf(page, '#output-error');
    assert.ok(error && !error.includes('no error'), error);

    // A run triggered through the API appears by itself, without a reload.
    const second = await server.trigger(jobId);
    const secondRow = `#runs-table tr[data-run-id="${second}"]`;
    await until(async () => (await count(page, secondRow)) === 1, 'the API-triggered run', LIVE_WAIT);
    await until(async () => (await textOf(page, `${secondRow} .run-status`) || '').includes('FAILED'), 'its outcome');
    assert.equal(await page.evaluate(() => window.__noReload), 'still here');
    // Newest first.
    const ids = await page.evaluate(() => [...document.querySelectorAll('#runs-table tbody tr[data-run-id]')]
      .map((tr) => tr.dataset.runId));
    assert.deepEqual(ids, [second, first.id]);
  });
});
