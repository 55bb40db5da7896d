// A server with DTS_API_TOKEN: the page asks for the token, keeps it for the
// tab, and asks again after a later 401.

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {LIVE_WAIT, NEVER, Server, launchBrowser, openPage, textOf, until, visibleJobIds,
  withPage} from './lib/harness.js';

const TOKEN = 'dashboard-test-token-0123456789';
let server;
let browser;
before(async () => {
  server = await Server.start({env: {DTS_API_TOKEN: TOKEN}});
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const dialogOpen = (page) => page.evaluate(() => document.getElementById('token-dialog').open);

test('the token prompt when the API needs a token', async () => {
  await withPage(browser, async (page) => {
    assert.equal((await server.request('GET', '/v1/jobs')).status, 401);
    server.headers = {Authorization: `Bearer ${TOKEN}`};
    const jobId = await server.createJob({name: 'secret', cron_expression: NEVER});

    await openPage(page, server, '/jobs');
    await until(() => dialogOpen(page), 'the token prompt');
    assert.deepEqual(await visibleJobIds(page), []);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'token-input');
    await page.fill('#token-input', 'wrong-token-wrong-token');
    await page.click('#token-submit');
    await until(async () => (await textOf(page, '#token-error')).includes('refused'), 'the refusal');
    assert.ok(await dialogOpen(page));

    await page.fill('#token-input', TOKEN);
    await page.keyboard.press('Enter');  // the dialog is a form: Enter submits
    await until(async () => (await visibleJobIds(page)).join() === jobId, 'the jobs, with the token');
    assert.equal(await dialogOpen(page), false);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('dts.apiToken')), TOKEN);

    // A 401 later (token changed under the page) brings the prompt back.
    await page.evaluate(() => sessionStorage.setItem('dts.apiToken', 'stale-token-stale-token'));
    await until(() => dialogOpen(page), 'the prompt again', LIVE_WAIT);
    await page.fill('#token-input', TOKEN);
    await page.click('#token-submit');
    await until(async () => !(await dialogOpen(page)), 'signed in again');
    await until(async () => (await visibleJobIds(page)).join() === jobId, 'the jobs again');

    // "Forget token" removes it and the prompt comes back.
    await page.click('#forget-token');
    await until(() => dialogOpen(page), 'the prompt after forgetting');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('dts.apiToken')), null);
  });
});
