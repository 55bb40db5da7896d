// The create form: live cron preview and errors against their fields, every
// field of a job, the server's 400 shown against its field, and a label on
// every control.

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {Server, UUID_RE, attrOf, count, hash, launchBrowser, openPage, screenshot, textOf, texts, until,
  withPage} from './lib/harness.js';

let server;
let browser;
before(async () => {
  // Its worker is labelled zone=z, so that a job constrained to it is placed.
  server = await Server.start({args: ['--worker-label', 'zone=z']});
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

// Every input, select and textarea (hidden ones too) with no accessible
// label: a <label for>, an enclosing <label>, aria-label or aria-labelledby
// naming a non-empty text.
export function unlabelledControls(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')].filter((el) => {
    if (el.type === 'hidden') return false;
    const labelText = [...(el.labels || [])].map((l) => l.textContent.trim()).join('');
    const aria = (el.getAttribute('aria-label') || '').trim();
    const by = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean)
      .map((id) => (document.getElementById(id) || {}).textContent || '').join('').trim();
    return !(labelText || aria || by);
  }).map((el) => el.outerHTML.slice(0, 120)));
}

test('create a job through the form', async () => {
  await withPage(browser, async (page) => {
    await openPage(page, server, '/jobs');
    await page.click('#new-job');
    await until(async () => (await textOf(page, '#form-title')) === 'New job', 'the form');
    await page.fill('#f-name', 'nightly-report');
    await page.fill('#f-description', 'made in the browser');

    // A bad expression is refused live, against its field.
    await page.fill('#f-cron_expression', '61 * * * *');
    const error = await until(() => textOf(page, '#err-cron_expression'), 'the cron error');
    assert.match(error, /^cron_expression: .*61/);
    assert.equal(await attrOf(page, '#f-cron_expression', 'aria-invalid'), 'true');
    assert.match(await attrOf(page, '#f-cron_expression', 'aria-describedby'), /err-cron_expression/);
    assert.equal(await count(page, '#cron-preview li'), 0);
    await screenshot(page, 'job-form-error');

    // A good one shows its next 5 fire times, in the job's zone.
    await page.fill('#f-cron_expression', '30 2 * * *');
    await page.fill('#f-timezone', 'America/New_York');
    const items = await until(async () => {
      const t = await texts(page, '#cron-preview li');
      return t.length && t.every((x) => /^\d{4}-\d\d-\d\d 0[23]:[03]0:00-0[45]:00$/.test(x)) && t;
    }, '5 fire times in New York');
    assert.equal(items.length, 5, items);
    assert.equal(await textOf(page, '#err-cron_expression'), '');
    assert.equal(await attrOf(page, '#f-cron_expression', 'aria-invalid'), null);
    // An unknown zone is an error against the zone field.
    await page.fill('#f-timezone', 'Mars/Base');
    const zoneError = await until(() => textOf(page, '#err-timezone'), 'the zone error');
    assert.match(zoneError, /^timezone: .*Mars\/Base/);
    await page.fill('#f-timezone', 'America/New_York');
    await until(async () => (await count(page, '#cron-preview li')) === 5, 'fire times again');

    // Every other field.
    await page.selectOption('#f-status', 'PAUSED');
    await page.check('#f-executor-kind-command');
    await page.check('#f-command-mode-shell');
    await page.fill('#f-executor-command-script', 'echo report-$((6*7))');
    await page.fill('#f-executor-command-env', 'MODE=full');
    await page.fill('#f-resources-cpu', '200');
    await page.fill('#f-resources-memory', '32');
    await page.fill('#f-constraints', 'zone=z');
    await page.selectOption('#f-overlap_policy', 'FORBID');
    await page.selectOption('#f-misfire_policy', 'SKIP');
    await page.fill('#f-starting_deadline', '30');
    await page.fill('#f-timeout', '60');
    await page.fill('#f-max_retries', '2');
    await page.fill('#f-retry_backoff-initial_seconds', '5');
    await page.fill('#f-retry_backoff-max_seconds', '50');
    await page.fill('#f-retry_backoff-multiplier', '1.5');
    await page.fill('#f-metadata', 'team=data\nowner=ops');

    // Every control has a label, whichever executor is shown.
    assert.deepEqual(await unlabelledControls(page), []);

    // The server's 400 ("priority: ...") shows against the field, which
    // gets the focus, and nothing is created.
    await page.fill('#f-priority', '5000');
    await page.click('#job-submit');
    const priorityError = await until(() => textOf(page, '#err-priority'), 'the priority error');
    assert.match(priorityError, /^priority: /);
    assert.equal(await attrOf(page, '#f-priority', 'aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'f-priority');
    assert.equal((await server.ok('GET', '/v1/jobs')).total, 0);

    await page.fill('#f-priority', '7');
    await page.click('#job-submit');
    const where = await until(async () => {
      const h = await hash(page);
      return UUID_RE.test(h.replace('#/jobs/', '')) && h;
    }, async () => `the new job's page (errors: ${(await texts(page, '.field-error, #form-error')).filter(Boolean).join(' | ')})`);
    const jobId = where.split('/').pop();
    await until(async () => (await textOf(page, '#job-title') || '').includes('nightly-report'), "the job's title");

    const job = await server.getJob(jobId);
    assert.equal(job.name, 'nightly-report');
    assert.equal(job.description, 'made in the browser');
    assert.equal(job.cron_expression, '30 2 * * *');
    assert.equal(job.timezone, 'America/New_York');
    assert.equal(job.status, 'PAUSED');
    assert.equal(job.priority, 7);
    assert.equal(job.max_retries, 2);
    assert.equal(job.timeout, 60);
    assert.equal(job.starting_deadline, 30);
    assert.deepEqual(job.executor, {command: {argv: ['echo report-$((6*7))'], shell: true, env: {MODE: 'full'},
      working_dir: ''}});
    assert.deepEqual(job.resources, {cpu: 200, memory: 32, storage: 0});
    assert.deepEqual(job.constraints, {zone: 'z'});
    assert.deepEqual(job.metadata, {team: 'data', owner: 'ops'});
    assert.equal(job.overlap_policy, 'FORBID');
    assert.equal(job.misfire_policy, 'SKIP');
    assert.deepEqual(job.retry_backoff, {initial_seconds: 5, max_seconds: 50, multiplier: 1.5});

    // The detail page shows the definition and the next 5 fires in the zone.
    const definition = await textOf(page, '#job-definition');
    for (const s of ['30 2 * * *', 'America/New_York', 'FORBID']) assert.ok(definition.includes(s), s);
    const fires = await until(async () => {
      const t = await texts(page, '#job-fires li');
      return t.length && t;
    }, "the job's fires");
    assert.equal(fires.length, 5);
    for (const f of fires) assert.match(f, / 0[23]:[03]0:00-0[45]:00$/);
  });
});

test('every control of the form and of the other pages has a label', async () => {
  await withPage(browser, async (page) => {
    await openPage(page, server, '/jobs/new');
    await page.waitForSelector('#job-form');
    for (const kind of ['none', 'command', 'http', 'kafka']) {
      await page.check(`#f-executor-kind-${kind}`);
      assert.deepEqual(await unlabelledControls(page), [], kind);
      // The browser's own accessibility tree agrees for what is shown.
      const cdp = await page.context().newCDPSession(page);
      const {nodes} = await cdp.send('Accessibility.getFullAXTree');
      const nameless = nodes.filter((n) => !n.ignored &&
        ['textbox', 'combobox', 'searchbox', 'spinbutton', 'radio', 'checkbox', 'listbox'].includes(n.role?.value) &&
        !(n.name?.value || '').trim()).map((n) => `${n.role.value} ${n.backendDOMNodeId}`);
      assert.deepEqual(nameless, [], `controls without an accessible name (${kind})`);
      await cdp.detach();
    }
    for (const route of ['/jobs', '/workers', '/queue']) {
      await openPage(page, server, route);
      await page.waitForSelector('#main h1');
      assert.deepEqual(await unlabelledControls(page), [], route);
    }
  });
});
