// How the page is served (types, caching, a strict Content-Security-Policy,
// 404s) and GET /v1/cron/next, which the form's preview uses. No browser.

import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {Server} from './lib/harness.js';

let server;
before(async () => { server = await Server.start(); });
after(async () => { await server?.stop(); });

async function get(path, headers = {}) {
  const r = await fetch(server.baseUrl + path, {headers});
  return {status: r.status, headers: r.headers, body: await r.text()};
}

test('the dashboard is served with types, caching and a strict policy', async () => {
  let r = await get('/');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  const csp = r.headers.get('content-security-policy');
  assert.ok(csp.includes("script-src 'self'") && csp.includes("default-src 'none'") && !csp.includes('unsafe'), csp);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  assert.ok(r.body.includes('<script src="/ui/app.js"') && !r.body.includes('<script>'));
  const etag = r.headers.get('etag');
  r = await get('/', {'If-None-Match': etag});
  assert.equal(r.status, 304);
  assert.equal(r.body, '');

  r = await get('/ui/app.js');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/javascript; charset=utf-8');
  r = await get('/ui/style.css');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/css; charset=utf-8');
  for (const path of ['/ui/nope.js', '/ui/index.html', '/ui', '/index.html', '/dashboard']) {
    assert.equal((await get(path)).status, 404, path);
  }
  // The API is unchanged beside it.
  const jobs = await server.request('GET', '/v1/jobs');
  assert.equal(jobs.status, 200);
  assert.deepEqual(jobs.body.jobs, []);
  assert.equal((await server.request('POST', '/')).status, 405);
});

test('GET /v1/cron/next', async () => {
  let r = await server.request('GET',
    '/v1/cron/next?expr=30%202%20*%20*%20*&tz=America/New_York&count=3&from=2026-03-07T00:00:00Z');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.times, ['2026-03-07T07:30:00Z', '2026-03-08T07:00:00Z', '2026-03-09T06:30:00Z']);
  assert.deepEqual(r.body.local_times, ['2026-03-07T02:30:00-05:00', '2026-03-08T03:00:00-04:00',
    '2026-03-09T02:30:00-04:00']);
  assert.equal(r.body.timezone, 'America/New_York');
  r = await server.request('GET', '/v1/cron/next?expr=@hourly');
  assert.equal(r.status, 200);
  assert.equal(r.body.times.length, 5);  // default count 5, tz UTC
  r = await server.request('GET',
    '/v1/cron/next?expr=@every%2090s&from=2026-01-01T00:00:10Z&anchor=2026-01-01T00:00:00Z&count=2');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.times, ['2026-01-01T00:01:30Z', '2026-01-01T00:03:00Z']);
  for (const [query, field] of [['expr=61%20*%20*%20*%20*', 'expr'], ['tz=UTC', 'expr'],
    ['expr=@daily&tz=Mars/Base', 'tz'], ['expr=@daily&count=0', 'count'], ['expr=@daily&count=101', 'count'],
    ['expr=@daily&count=x', 'count'], ['expr=@daily&from=yesterday', 'from'], ['expr=0%200%2030%202%20*', 'expr'],
    ['expr=@daily&bogus=1', 'bogus']]) {
    r = await server.request('GET', `/v1/cron/next?${query}`);
    assert.equal(r.status, 400, query);
    assert.equal(r.body.code, 3, query);
    assert.ok(r.body.message.startsWith(`${field}: `), `${query}: ${r.body.message}`);
  }
  r = await server.request('GET', '/v1/cron/next?expr=@daily&count=100');
  assert.equal(r.status, 200);
  assert.equal(r.body.times.length, 100);
});
