// The workers page (a capacity bar per resource, labels, running runs,
// enforcement) and the queue, on a server whose worker is small enough for a
// run to wait.

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {LIVE_WAIT, NEVER, Server, WAIT, assertNoHorizontalScroll, attrOf, count, launchBrowser, openPage,
  screenshot, textOf, until, withPage} from './lib/harness.js';

let server;
let browser;
before(async () => {
  server = await Server.start({args: ['--worker-cpu', '2000', '--worker-label', 'zone=z', '--worker-label', 'disk=ssd']});
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('workers with capacity bars, and the queue', async () => {
  await withPage(browser, async (page) => {
    const big = await server.createJob({name: 'big-batch', cron_expression: NEVER, resources: {cpu: 1500, memory: 64},
      executor: {command: {argv: ['sleep', '60']}}});
    const small = await server.createJob({name: 'waits', cron_expression: NEVER, resources: {cpu: 1000, memory: 64},
      executor: {command: {argv: ['true']}}});
    const running = await server.trigger(big);
    await until(async () => (await server.ok('GET', `/v1/executions/${running}`)).status === 'RUNNING', 'the big run to start');
    const queued = await server.trigger(small);
    await until(async () => (await server.ok('GET', `/v1/executions/${queued}`)).status === 'QUEUED', 'the small run to queue');

    await openPage(page, server, '/workers');
    const worker = '.worker[data-worker-id="local"]';
    const cpu = `${worker} .bar-row[data-dimension="cpu"] meter`;
    await until(async () => (await attrOf(page, cpu, 'data-allocated')) === '1500', 'cpu allocated');
    assert.equal(await attrOf(page, cpu, 'data-capacity'), '2000');
    assert.equal(Number(await attrOf(page, cpu, 'value')), 1500);
    assert.equal(Number(await attrOf(page, cpu, 'max')), 2000);
    assert.match(await textOf(page, `${worker} .bar-row[data-dimension="cpu"]`), /1500m of 2000m/);
    for (const dim of ['memory', 'storage']) {
      assert.notEqual(await attrOf(page, `${worker} .bar-row[data-dimension="${dim}"] meter`, 'data-capacity'), '0', dim);
    }
    assert.equal(await attrOf(page, `${worker} .bar-row[data-dimension="memory"] meter`, 'data-allocated'), '64');
    const text = await textOf(page, worker);
    for (const s of ['READY', 'zone=z', 'disk=ssd']) assert.ok(text.includes(s), s);
    assert.equal(await textOf(page, '.worker .running-count'), '1');
    assert.ok((await textOf(page, '.worker-running')).includes(running));
    assert.match(await textOf(page, '.worker-enforcement'), /memory: /);
    await assertNoHorizontalScroll(page, 'workers at 1280 px');
    await screenshot(page, 'workers');

    await page.click('a[data-nav="queue"]');
    const row = `#queue-table tr[data-run-id="${queued}"]`;
    await until(async () => (await count(page, row)) === 1, 'the queued run');
    const {runs: [entry]} = await server.ok('GET', '/v1/scheduler/queue');
    assert.ok(entry.reason);
    assert.equal(await textOf(page, `${row} .queue-reason`), entry.reason);
    assert.match(await textOf(page, row), /waits/);
    assert.equal(await textOf(page, '#queue-total'), '1 waiting');
    await screenshot(page, 'queue');

    // When the big run is cancelled the queue empties by itself.
    assert.equal((await server.request('DELETE', `/v1/jobs/${big}?cancel_running=true`)).status, 200);
    await until(async () => (await textOf(page, '#queue-table tbody')).includes('Nothing is waiting'), 'an empty queue',
      LIVE_WAIT + WAIT);
  });
});
