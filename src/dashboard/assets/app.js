// The DTS dashboard: one page, plain JavaScript, no build step and no
// dependencies. It uses only the public HTTP API (docs/api.md) and polls it
// every POLL_MS while a page is shown. See docs/dashboard.md.
'use strict';

(() => {
  const POLL_MS = 2000;
  const TOKEN_KEY = 'dts.apiToken';
  const JOB_STATUSES = ['ACTIVE', 'PAUSED', 'CANCELLED', 'PENDING', 'SCHEDULED', 'RUNNING',
    'COMPLETED', 'FAILED', 'RETRYING'];
  const FIRING = new Set(['ACTIVE', 'PENDING', 'SCHEDULED']);
  const RUN_ACTIVE = new Set(['PENDING', 'QUEUED', 'RUNNING', 'RETRYING']);
  const OVERLAP = ['ALLOW', 'FORBID', 'REPLACE'];
  const MISFIRE = ['RUN_ONCE', 'SKIP', 'RUN_ALL'];
  const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];
  const MAX_RUNS_SHOWN = 200;

  // ---------------------------------------------------------------- DOM

  // h('a', {href: '#/jobs', class: 'x'}, 'text', child...): an element.
  // `value`, `checked` and `selected` are set as properties, `on<event>`
  // adds a listener, false/null/undefined attributes are left out.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    const props = {};
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key === 'value' || key === 'checked' || key === 'selected') props[key] = value;
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    Object.assign(el, props);
    return el;
  }
  const $ = (selector, root = document) => root.querySelector(selector);

  // A wide table scrolls sideways inside its own box on a narrow screen,
  // never the page. The box can take the focus (arrow keys scroll it).
  function tableBox(table) {
    const caption = table.querySelector('caption');
    return h('div', {class: 'table-box', tabindex: 0, role: 'region',
      'aria-label': caption ? caption.textContent : 'Table'}, table);
  }

  function badge(status, extraClass) {
    const s = status || '';
    return h('span', {class: `badge status-${s || 'NONE'}${extraClass ? ' ' + extraClass : ''}`},
      s || '—');
  }

  // ---------------------------------------------------------------- time

  const formatters = new Map();
  function formatterFor(zone) {
    if (!formatters.has(zone)) {
      let f = null;
      try {
        f = new Intl.DateTimeFormat('en-GB', {timeZone: zone, year: 'numeric', month: '2-digit',
          day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
          timeZoneName: 'short'});
      } catch (e) {
        f = null;  // a zone the browser does not know: show UTC
      }
      formatters.set(zone, f);
    }
    return formatters.get(zone);
  }

  // An RFC 3339 instant as "2026-03-07 02:30:00 GMT-5" in `zone` (UTC if the
  // browser does not know the zone).
  function formatInstant(iso, zone) {
    if (!iso) return '';
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    const f = formatterFor(zone || 'UTC') || formatterFor('UTC');
    if (!f) return iso;
    const p = {};
    for (const part of f.formatToParts(date)) p[part.type] = part.value;
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName || ''}`.trim();
  }

  function timeEl(iso, zone, empty = '—') {
    if (!iso) return h('span', {class: 'muted', text: empty});
    return h('time', {datetime: iso, title: iso, text: formatInstant(iso, zone)});
  }

  // "2026-03-07T02:30:00-05:00" (local time with offset, from /v1/cron/next)
  function localTimeEl(local, utc) {
    return h('time', {datetime: utc, title: utc, text: local.replace('T', ' ')});
  }

  function formatDuration(ms) {
    if (!(ms >= 0)) return '';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
    return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
  }

  function runDuration(run) {
    if (!run.start_time) return '';
    const end = run.end_time ? Date.parse(run.end_time) : Date.now();
    const text = formatDuration(end - Date.parse(run.start_time));
    return run.end_time ? text : `${text} so far`;
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

  async function api(method, path, body) {
    const headers = {Accept: 'application/json'};
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {method, headers, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (e) {
      throw new ApiError(0, {message: `cannot reach the server (${e.message})`});
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = {message: text}; }
    }
    if (response.status === 401) {
      askForToken(t ? 'The server refused this token.' : '');
      throw new ApiError(401, data);
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  const enc = encodeURIComponent;

  async function listAll(path, key, limit) {
    const items = [];
    let last = '';
    const sep = path.includes('?') ? '&' : '?';
    do {
      const page = await api('GET', `${path}${sep}page_size=1000${last ? `&last_id=${enc(last)}` : ''}`);
      items.push(...(page[key] || []));
      last = page.next_page || '';
    } while (last && items.length < limit);
    return items;
  }

  // Next fire times, cached per (expression, zone, anchor) until the first
  // of them has passed.
  const fireCache = new Map();
  async function nextFires(expr, zone, count, anchor) {
    const every = /^\s*@every\b/i.test(expr);
    const key = `${expr}\u0000${zone}\u0000${count}\u0000${every ? anchor : ''}`;
    const cached = fireCache.get(key);
    if (cached && (cached.error || (cached.times.length && Date.parse(cached.times[0]) > Date.now()))) {
      return cached;
    }
    let entry;
    try {
      let q = `expr=${enc(expr)}&tz=${enc(zone || 'UTC')}&count=${count}`;
      if (every && anchor) q += `&anchor=${enc(anchor)}`;
      const r = await api('GET', `/v1/cron/next?${q}`);
      entry = {times: r.times || [], local: r.local_times || [], error: ''};
    } catch (e) {
      if (e.status === 401 || e.status === 0) throw e;
      entry = {times: [], local: [], error: e.message};
    }
    if (fireCache.size > 2000) fireCache.clear();
    fireCache.set(key, entry);
    return entry;
  }

  function firesList(entry, cls) {
    if (entry.error) return h('p', {class: 'error', text: entry.error});
    if (!entry.times.length) return h('p', {class: 'muted', text: 'no upcoming fire'});
    return h('ol', {class: cls || 'fires'},
      entry.times.map((t, i) => h('li', {}, localTimeEl(entry.local[i] || t, t))));
  }

  // ---------------------------------------------------------------- chrome

  function flash(message) {
    const el = $('#flash');
    el.textContent = message;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => { el.textContent = ''; }, 6000);
  }

  function showError(error) {
    const el = $('#error-banner');
    if (!error) {
      el.hidden = true;
      el.textContent = '';
      return;
    }
    if (error.status === 401) return;  // the token dialog says it
    el.textContent = error.message || String(error);
    el.hidden = false;
  }

  function setUpdated(ok) {
    const now = new Date();
    $('#updated').textContent = ok ? `Live · updated ${now.toLocaleTimeString()}` : 'Not updating';
    document.body.classList.toggle('stale', !ok);
    $('#forget-token').hidden = !token();
  }

  // ---------------------------------------------------------------- token prompt

  function askForToken(message) {
    const dialog = $('#token-dialog');
    $('#token-error').textContent = message || '';
    if (!dialog.open) {
      $('#token-input').value = '';
      dialog.showModal();
    }
    $('#token-input').focus();
  }

  function setUpTokenDialog() {
    const dialog = $('#token-dialog');
    $('#token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('#token-input').value.trim();
      if (!value) {
        $('#token-error').textContent = 'Enter the token the server was started with.';
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, value);
      dialog.close();
      render();
    });
    // Without a token nothing works; Escape must not leave a dead page.
    dialog.addEventListener('cancel', (event) => event.preventDefault());
    $('#forget-token').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      render();
    });
  }

  // Resolves true when the user confirms. Cancel has the focus, so Enter
  // does not delete by accident; Escape cancels.
  function confirmDialog(text, okLabel) {
    const dialog = $('#confirm-dialog');
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = okLabel || 'Delete';
    return new Promise((resolve) => {
      const done = (answer) => {
        $('#confirm-ok').removeEventListener('click', ok);
        $('#confirm-cancel').removeEventListener('click', cancel);
        dialog.removeEventListener('close', closed);
        if (dialog.open) dialog.close();
        resolve(answer);
      };
      const ok = () => done(true);
      const cancel = () => done(false);
      const closed = () => done(false);
      $('#confirm-ok').addEventListener('click', ok);
      $('#confirm-cancel').addEventListener('click', cancel);
      dialog.addEventListener('close', closed);
      dialog.showModal();
      $('#confirm-cancel').focus();
    });
  }

  // ---------------------------------------------------------------- job actions

  async function jobAction(job, action) {
    try {
      if (action === 'delete') {
        const yes = await confirmDialog(
          `Delete job “${job.name}” and its whole run history? This cannot be undone.`, 'Delete');
        if (!yes) return;
        await api('DELETE', `/v1/jobs/${enc(job.id)}`);
        flash(`Deleted job “${job.name}”.`);
        if (location.hash !== '#/jobs') {
          location.hash = '#/jobs';
          return;
        }
      } else if (action === 'run') {
        const r = await api('POST', `/v1/jobs/${enc(job.id)}/run`);
        flash(`Triggered “${job.name}”: run ${r.execution_id}.`);
      } else {
        await api('POST', `/v1/jobs/${enc(job.id)}/${action}`);
        flash(`${action === 'pause' ? 'Paused' : 'Resumed'} “${job.name}”.`);
      }
      showError(null);
    } catch (e) {
      showError(e);
    }
    refreshNow();
  }

  function actionButtons(job) {
    const fires = FIRING.has(job.status);
    const button = (action, label, cls) => h('button', {type: 'button', class: cls || '',
      dataset: {action}, 'aria-label': `${label} ${job.name}`, text: label,
      onclick: () => jobAction(job, action)});
    return [
      fires ? button('pause', 'Pause') : button('resume', 'Resume'),
      button('run', 'Run now'),
      h('a', {class: 'button', href: `#/jobs/${job.id}/edit`, dataset: {action: 'edit'},
        'aria-label': `Edit ${job.name}`, text: 'Edit'}),
      button('delete', 'Delete', 'danger'),
    ];
  }

  // ---------------------------------------------------------------- jobs page

  function jobsView(main) {
    const state = {status: sessionStorage.getItem('dts.filter.status') || '',
      search: sessionStorage.getItem('dts.filter.search') || '', jobs: [], total: 0};
    const rows = new Map();  // job id -> {tr, signature}

    const statusSelect = h('select', {id: 'status-filter', onchange: () => {
      state.status = statusSelect.value;
      sessionStorage.setItem('dts.filter.status', state.status);
      refreshNow();
    }}, h('option', {value: '', text: 'All'}), JOB_STATUSES.map((s) => h('option', {value: s, text: s})));
    statusSelect.value = state.status;
    const search = h('input', {id: 'job-search', type: 'search', value: state.search,
      placeholder: 'name contains…', autocomplete: 'off', oninput: () => {
        state.search = search.value;
        sessionStorage.setItem('dts.filter.search', state.search);
        draw().catch(showError);
      }});
    const tbody = h('tbody');
    const count = h('p', {id: 'jobs-count', class: 'muted'});
    main.append(
      h('div', {class: 'page-head'}, h('h1', {text: 'Jobs'}),
        h('a', {class: 'button primary', href: '#/jobs/new', id: 'new-job', text: 'New job'})),
      h('div', {class: 'toolbar', role: 'search'},
        h('label', {for: 'status-filter'}, 'Status '), statusSelect,
        h('label', {for: 'job-search'}, 'Search by name '), search),
      tableBox(h('table', {id: 'jobs-table', class: 'data'},
        h('caption', {class: 'visually-hidden', text: 'Jobs'}),
        h('thead', {}, h('tr', {}, ['Name', 'Status', 'Schedule (next 3 fires, job time zone)',
          'Last run', 'Next run', 'Actions'].map((t) => h('th', {scope: 'col', text: t})))),
        tbody)),
      count);

    function rowFor(job, fires) {
      const zone = job.timezone || 'UTC';
      return h('tr', {dataset: {jobId: job.id}},
        h('td', {class: 'job-name'}, h('a', {href: `#/jobs/${job.id}`, text: job.name}),
          job.description ? h('div', {class: 'muted small', text: job.description}) : null),
        h('td', {class: 'job-status'}, badge(job.status)),
        h('td', {class: 'job-schedule'}, h('code', {text: job.cron_expression}),
          h('span', {class: 'muted small', text: ` ${zone}`}), firesList(fires, 'fires compact')),
        h('td', {class: 'job-last'}, job.last_status ? badge(job.last_status) : h('span', {class: 'muted', text: 'never run'}),
          job.last_run ? h('div', {class: 'small'}, timeEl(job.last_run, zone)) : null),
        h('td', {class: 'job-next'}, timeEl(job.next_run, zone)),
        h('td', {class: 'actions'}, actionButtons(job)));
    }

    async function draw() {
      const q = state.search.trim().toLowerCase();
      const shown = state.jobs.filter((j) => !q || j.name.toLowerCase().includes(q))
        .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
      const fires = await Promise.all(shown.map((j) => nextFires(j.cron_expression,
        j.timezone || 'UTC', 3, j.schedule_anchor)));
      const seen = new Set();
      const wanted = shown.map((job, i) => {
        seen.add(job.id);
        const signature = JSON.stringify([job, fires[i]]);
        let row = rows.get(job.id);
        if (!row || row.signature !== signature) {
          const tr = rowFor(job, fires[i]);
          // Keep the keyboard focus on the same control across a redraw.
          if (row && row.tr.contains(document.activeElement)) {
            const action = document.activeElement.dataset.action;
            if (row.tr.isConnected) row.tr.replaceWith(tr);
            const twin = {pause: 'resume', resume: 'pause'}[action];
            const again = action && (tr.querySelector(`[data-action="${action}"]`) ||
              (twin && tr.querySelector(`[data-action="${twin}"]`)));
            if (again) again.focus();
          }
          row = {tr, signature};
          rows.set(job.id, row);
        }
        return row.tr;
      });
      for (const id of [...rows.keys()]) if (!seen.has(id)) rows.delete(id);
      if (wanted.length === 0) {
        tbody.replaceChildren(h('tr', {class: 'empty'}, h('td', {colspan: 6,
          text: state.jobs.length ? 'No job matches the search.' : 'No jobs.'})));
      } else {
        // Move only rows that are out of place, so focus is not lost.
        wanted.forEach((tr, i) => {
          if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
        });
        while (tbody.children.length > wanted.length) tbody.lastElementChild.remove();
      }
      count.textContent = `${wanted.length} shown of ${state.total} job${state.total === 1 ? '' : 's'}` +
        (state.status ? ` with status ${state.status}` : '');
    }

    return {
      title: 'Jobs',
      async refresh() {
        const path = `/v1/jobs${state.status ? `?status=${enc(state.status)}` : ''}`;
        state.jobs = await listAll(path, 'jobs', 10000);
        state.total = state.jobs.length;
        await draw();
      },
    };
  }

  // ---------------------------------------------------------------- job detail

  function jobDetailView(main, id) {
    const state = {job: null, runs: [], total: 0, selected: '', output: null};
    const head = h('div', {class: 'page-head'});
    const definition = h('dl', {id: 'job-definition', class: 'definition'});
    const fires = h('div', {id: 'job-fires'});
    const tbody = h('tbody');
    const runsNote = h('p', {id: 'runs-count', class: 'muted'});
    const output = h('section', {id: 'output-viewer', 'aria-labelledby': 'output-title', hidden: true});
    const runRows = new Map();
    main.append(
      h('p', {class: 'crumbs'}, h('a', {href: '#/jobs', text: '← Jobs'})),
      head,
      h('div', {class: 'columns'},
        h('section', {'aria-labelledby': 'def-title'}, h('h2', {id: 'def-title', text: 'Definition'}), definition),
        h('section', {'aria-labelledby': 'fires-title'},
          h('h2', {id: 'fires-title', text: 'Next 5 fire times'}), fires)),
      h('section', {'aria-labelledby': 'runs-title'},
        h('h2', {id: 'runs-title', text: 'Run history'}),
        tableBox(h('table', {id: 'runs-table', class: 'data'},
          h('caption', {class: 'visually-hidden', text: 'Runs of this job, newest first'}),
          h('thead', {}, h('tr', {}, ['Status', 'Scheduled', 'Started', 'Ended', 'Duration', 'Worker',
            'Attempt', 'Trigger', 'Output'].map((t) => h('th', {scope: 'col', text: t})))),
          tbody)),
        runsNote),
      output);

    function kv(map) {
      const entries = Object.entries(map || {});
      if (!entries.length) return h('span', {class: 'muted', text: 'none'});
      return h('ul', {class: 'kv'}, entries.map(([k, v]) => h('li', {}, h('code', {text: `${k}=${v}`}))));
    }

    function executorText(ex) {
      if (!ex || (!ex.command && !ex.http && !ex.kafka)) return h('span', {class: 'muted', text: 'none (records runs only)'});
      return h('pre', {class: 'json', text: JSON.stringify(ex, null, 2)});
    }

    let headSignature = '';
    function drawJob(job) {
      const zone = job.timezone || 'UTC';
      // Redrawn only when it changes, keeping the keyboard focus on the same
      // action (Pause becomes Resume and back).
      const signature = JSON.stringify([job.id, job.name, job.status]);
      if (signature !== headSignature) {
        headSignature = signature;
        const action = head.contains(document.activeElement) ? document.activeElement.dataset.action : '';
        head.replaceChildren(h('h1', {id: 'job-title'}, job.name, ' ', badge(job.status)),
          h('div', {class: 'actions'}, actionButtons(job)));
        const twin = {pause: 'resume', resume: 'pause'}[action];
        const again = action && (head.querySelector(`[data-action="${action}"]`) ||
          (twin && head.querySelector(`[data-action="${twin}"]`)));
        if (again) again.focus();
      }
      const r = job.resources || {};
      const b = job.retry_backoff || {};
      const rows = [
        ['ID', h('code', {text: job.id})],
        ['Description', job.description || h('span', {class: 'muted', text: 'none'})],
        ['Cron expression', h('code', {text: job.cron_expression})],
        ['Time zone', zone],
        ['Next run', timeEl(job.next_run, zone)],
        ['Last run', job.last_run ? h('span', {}, badge(job.last_status), ' ', timeEl(job.last_run, zone)) :
          h('span', {class: 'muted', text: 'never'})],
        ['Executor', executorText(job.executor)],
        ['Resources', `cpu ${r.cpu || 0}m, memory ${r.memory || 0} MiB, storage ${r.storage || 0} MiB`],
        ['Constraints', kv(job.constraints)],
        ['Priority', String(job.priority || 0)],
        ['Max retries', String(job.max_retries || 0)],
        ['Retry backoff', `initial ${b.initial_seconds || 0} s, max ${b.max_seconds || 0} s, ×${b.multiplier || 0} (0 = default)`],
        ['Timeout', job.timeout ? `${job.timeout} s` : 'none'],
        ['Starting deadline', job.starting_deadline ? `${job.starting_deadline} s` : 'none'],
        ['Overlap policy', job.overlap_policy || 'ALLOW'],
        ['Misfire policy', job.misfire_policy || 'RUN_ONCE'],
        ['Metadata', kv(job.metadata)],
        ['Created', timeEl(job.created_at, zone)],
        ['Updated', timeEl(job.updated_at, zone)],
      ];
      definition.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {text: k}), h('dd', {}, v)]));
      document.title = `${job.name} · DTS`;
    }

    function runRow(run, zone) {
      const selected = run.id === state.selected;
      return h('tr', {dataset: {runId: run.id}, class: selected ? 'selected' : ''},
        h('td', {class: 'run-status'}, badge(run.status)),
        h('td', {}, timeEl(run.scheduled_time, zone)),
        h('td', {}, timeEl(run.start_time, zone)),
        h('td', {}, timeEl(run.end_time, zone)),
        h('td', {}, runDuration(run)),
        h('td', {class: 'run-worker'}, run.worker_id || h('span', {class: 'muted', text: '—'})),
        h('td', {class: 'run-attempt'}, String(run.attempt || 1)),
        h('td', {class: 'run-trigger'}, run.trigger || ''),
        h('td', {}, h('button', {type: 'button', dataset: {action: 'output'}, 'aria-pressed': selected ? 'true' : 'false',
          'aria-label': `Show output of run ${run.id}`, text: 'Output', onclick: () => selectRun(run.id)})));
    }

    function drawRuns() {
      const zone = (state.job && state.job.timezone) || 'UTC';
      const shown = state.runs.slice(0, MAX_RUNS_SHOWN);
      const seen = new Set();
      const trs = shown.map((run) => {
        seen.add(run.id);
        const signature = JSON.stringify([run, run.id === state.selected, RUN_ACTIVE.has(run.status) ? Date.now() : 0]);
        let row = runRows.get(run.id);
        if (!row || row.signature !== signature) {
          const tr = runRow(run, zone);
          if (row && row.tr.contains(document.activeElement)) {
            row.tr.replaceWith(tr);
            tr.querySelector('button').focus();
          }
          row = {tr, signature};
          runRows.set(run.id, row);
        }
        return row.tr;
      });
      for (const rid of [...runRows.keys()]) if (!seen.has(rid)) runRows.delete(rid);
      if (!trs.length) {
        tbody.replaceChildren(h('tr', {class: 'empty'}, h('td', {colspan: 9, text: 'No runs yet.'})));
      } else {
        trs.forEach((tr, i) => {
          if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
        });
        while (tbody.children.length > trs.length) tbody.lastElementChild.remove();
      }
      runsNote.textContent = state.total > shown.length ?
        `Showing the newest ${shown.length} of ${state.total} runs.` : `${state.total} run${state.total === 1 ? '' : 's'}.`;
    }

    function drawOutput() {
      const run = state.output;
      if (!run) {
        output.hidden = true;
        return;
      }
      const zone = (state.job && state.job.timezone) || 'UTC';
      const pre = (idName, text, empty) => text ?
        h('pre', {id: idName, class: 'output', tabindex: 0, text}) :
        h('p', {id: idName, class: 'muted', text: empty});
      output.hidden = false;
      output.replaceChildren(
        h('h2', {id: 'output-title'}, 'Output of run ', h('code', {text: run.id})),
        h('dl', {class: 'definition compact'},
          h('dt', {text: 'Status'}), h('dd', {id: 'output-status'}, badge(run.status)),
          h('dt', {text: 'Exit code'}), h('dd', {id: 'output-exit', text: run.exit_code === undefined ? '—' : String(run.exit_code)}),
          h('dt', {text: 'Scheduled'}), h('dd', {}, timeEl(run.scheduled_time, zone)),
          h('dt', {text: 'Duration'}), h('dd', {text: runDuration(run) || '—'}),
          h('dt', {text: 'Worker'}), h('dd', {text: run.worker_id || '—'}),
          h('dt', {text: 'Attempt / trigger'}), h('dd', {text: `${run.attempt || 1} / ${run.trigger || ''}`}),
          run.queue_reason ? [h('dt', {text: 'Queued because'}), h('dd', {text: run.queue_reason})] : null),
        h('h3', {text: 'Error'}), pre('output-error', run.error, 'no error'),
        h('h3', {text: 'Output (result)'}), pre('output-result', run.result, RUN_ACTIVE.has(run.status) ?
          'no output yet (the run has not finished)' : 'no output captured'),
        h('p', {}, h('button', {type: 'button', id: 'output-close', text: 'Close output',
          onclick: () => { state.selected = ''; state.output = null; drawOutput(); drawRuns(); }})));
    }

    async function loadOutput() {
      if (!state.selected) return;
      const keep = state.output && state.output.id === state.selected && !RUN_ACTIVE.has(state.output.status);
      if (!keep) state.output = await api('GET', `/v1/executions/${enc(state.selected)}`);
    }

    async function selectRun(runId) {
      state.selected = runId;
      state.output = null;
      try {
        await loadOutput();
        drawRuns();
        drawOutput();
        const heading = $('#output-title');
        if (heading) heading.scrollIntoView({block: 'nearest'});
      } catch (e) {
        showError(e);
      }
    }

    return {
      title: 'Job',
      async refresh() {
        let job;
        try {
          job = await api('GET', `/v1/jobs/${enc(id)}`);
        } catch (e) {
          if (e.status === 404) {
            head.replaceChildren(h('h1', {text: 'Job not found'}));
            definition.replaceChildren(h('p', {text: `There is no job ${id} (it may have been deleted).`}));
            return;
          }
          throw e;
        }
        state.job = job;
        const [entry, runs] = await Promise.all([
          nextFires(job.cron_expression, job.timezone || 'UTC', 5, job.schedule_anchor),
          listAll(`/v1/jobs/${enc(id)}/executions`, 'executions', 5000),
        ]);
        runs.sort((a, b) => (b.created_at || b.scheduled_time || '').localeCompare(a.created_at || a.scheduled_time || '') ||
          (b.attempt || 0) - (a.attempt || 0));
        state.runs = runs;
        state.total = runs.length;
        await loadOutput();
        drawJob(job);
        fires.replaceChildren(h('p', {class: 'muted small', text: `In ${job.timezone || 'UTC'}.`}), firesList(entry, 'fires'));
        drawRuns();
        drawOutput();
      },
    };
  }

  // ---------------------------------------------------------------- job form

  const mapText = (map, sep = '=') => Object.entries(map || {}).map(([k, v]) => `${k}${sep}${v}`).join('\n');

  // "k=v" lines -> object; throws "field: line N: ..." for a bad line.
  function parseMap(field, text, sep = '=') {
    const out = {};
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line) return;
      const at = line.indexOf(sep);
      if (at <= 0) throw new Error(`${field}: line ${i + 1}: expected key${sep}value, got "${line}"`);
      out[line.slice(0, at).trim()] = line.slice(at + sep.length).trim();
    });
    return out;
  }

  function parseInteger(field, text, fallback = 0) {
    const t = String(text).trim();
    if (t === '') return fallback;
    if (!/^-?\d+$/.test(t)) throw new Error(`${field}: must be a whole number, got "${t}"`);
    return Number(t);
  }

  function jobFormView(main, id) {
    const editing = Boolean(id);
    let seq = 0;
    let zones = [];
    try { zones = Intl.supportedValuesOf('timeZone'); } catch (e) { zones = []; }

    // field(name, label, control, help): a labelled control with its error slot.
    function field(name, label, control, help) {
      control.id = control.id || `f-${name.replace(/\./g, '-')}`;
      const errorId = `err-${name.replace(/\./g, '-')}`;
      const helpId = help ? `help-${name.replace(/\./g, '-')}` : null;
      control.setAttribute('aria-describedby', [helpId, errorId].filter(Boolean).join(' '));
      return h('div', {class: 'field', dataset: {field: name}},
        h('label', {for: control.id, text: label}), control,
        help ? h('p', {class: 'help', id: helpId, text: help}) : null,
        h('p', {class: 'field-error', id: errorId, role: 'alert'}));
    }
    const input = (name, attrs) => h('input', Object.assign({name, type: 'text'}, attrs || {}));
    const number = (name, attrs) => h('input', Object.assign({name, type: 'number', inputmode: 'numeric', step: 1}, attrs || {}));
    const select = (name, options) => h('select', {name}, options.map((o) => h('option', {value: o, text: o || '(default)'})));
    const textarea = (name, rows, attrs) => h('textarea', Object.assign({name, rows}, attrs || {}));
    // A fieldset that can carry an error for a whole object field.
    function group(name, legend, ...children) {
      const errorId = `err-${name.replace(/\./g, '-')}`;
      return h('fieldset', {dataset: {field: name}, 'aria-describedby': errorId}, h('legend', {text: legend}), ...children,
        h('p', {class: 'field-error', id: errorId, role: 'alert'}));
    }
    const radio = (groupName, value, label, checked) => {
      const rid = `f-${groupName}-${value}`;
      return h('span', {class: 'radio'}, h('input', {type: 'radio', name: groupName, id: rid, value, checked}),
        h('label', {for: rid, text: label}));
    };

    const f = {
      name: input('name', {required: true, maxlength: 200, autocomplete: 'off'}),
      description: textarea('description', 2),
      cron: input('cron_expression', {required: true, autocomplete: 'off', spellcheck: 'false', placeholder: '*/5 * * * *'}),
      timezone: input('timezone', {list: 'tz-list', autocomplete: 'off', spellcheck: 'false', placeholder: 'UTC', value: 'UTC'}),
      status: select('status', JOB_STATUSES),
      priority: number('priority', {min: 0, max: 1000, value: 0}),
      maxRetries: number('max_retries', {min: 0, max: 100, value: 0}),
      timeout: number('timeout', {min: 0, value: 0}),
      deadline: number('starting_deadline', {min: 0, value: 0}),
      metadata: textarea('metadata', 3, {placeholder: 'team=data', spellcheck: 'false'}),
      constraints: textarea('constraints', 2, {placeholder: 'zone=eu-1', spellcheck: 'false'}),
      overlap: select('overlap_policy', OVERLAP),
      misfire: select('misfire_policy', MISFIRE),
      cpu: number('resources.cpu', {min: 0, value: 100}),
      memory: number('resources.memory', {min: 0, value: 64}),
      storage: number('resources.storage', {min: 0, value: 0}),
      backoffInitial: number('retry_backoff.initial_seconds', {min: 0, value: 0}),
      backoffMax: number('retry_backoff.max_seconds', {min: 0, value: 0}),
      backoffMultiplier: h('input', {name: 'retry_backoff.multiplier', type: 'number', min: 0, max: 100, step: 'any', value: 0}),
      argv: textarea('executor.command.argv', 3, {spellcheck: 'false', placeholder: '/usr/bin/env\necho\nhello'}),
      script: textarea('executor.command.script', 3, {spellcheck: 'false', placeholder: 'echo hello && date'}),
      env: textarea('executor.command.env', 2, {spellcheck: 'false', placeholder: 'MODE=x'}),
      workingDir: input('executor.command.working_dir', {spellcheck: 'false'}),
      httpMethod: select('executor.http.method', HTTP_METHODS),
      url: input('executor.http.url', {type: 'url', placeholder: 'https://example.com/hook', spellcheck: 'false'}),
      headers: textarea('executor.http.headers', 2, {placeholder: 'X-Token: t', spellcheck: 'false'}),
      httpBody: textarea('executor.http.body', 2, {spellcheck: 'false'}),
      expected: number('executor.http.expected_status', {min: 0, max: 599, value: 0}),
      topic: input('executor.kafka.topic', {spellcheck: 'false'}),
      key: input('executor.kafka.key', {spellcheck: 'false'}),
      payload: textarea('executor.kafka.payload', 2, {spellcheck: 'false'}),
    };
    f.argv.id = 'f-executor-command-argv';
    const preview = h('div', {id: 'cron-preview', 'aria-live': 'polite'});

    const kindRadios = h('div', {class: 'radios', role: 'radiogroup', 'aria-label': 'Executor kind'},
      radio('executor-kind', 'none', 'None (timer: records runs only)', true),
      radio('executor-kind', 'command', 'Command'),
      radio('executor-kind', 'http', 'HTTP call'),
      radio('executor-kind', 'kafka', 'Kafka message'));
    const modeRadios = h('div', {class: 'radios', role: 'radiogroup', 'aria-label': 'Command mode'},
      radio('command-mode', 'argv', 'Program and arguments (no shell)', true),
      radio('command-mode', 'shell', 'Shell script (/bin/sh -c)'));
    const argvField = field('executor.command.argv', 'Arguments, one per line (the first is the program)', f.argv);
    const scriptField = field('executor.command.script', 'Shell script', f.script);
    const commandBox = h('div', {class: 'executor-box', id: 'executor-command', dataset: {field: 'executor.command'}},
      modeRadios, argvField, scriptField,
      field('executor.command.env', 'Environment, KEY=value per line', f.env),
      field('executor.command.working_dir', 'Working directory', f.workingDir));
    const httpBox = h('div', {class: 'executor-box', id: 'executor-http', dataset: {field: 'executor.http'}},
      field('executor.http.method', 'Method', f.httpMethod),
      field('executor.http.url', 'URL', f.url),
      field('executor.http.headers', 'Headers, "Name: value" per line', f.headers),
      field('executor.http.body', 'Body', f.httpBody),
      field('executor.http.expected_status', 'Expected status (0: any 2xx)', f.expected));
    const kafkaBox = h('div', {class: 'executor-box', id: 'executor-kafka', dataset: {field: 'executor.kafka'}},
      field('executor.kafka.topic', 'Topic', f.topic),
      field('executor.kafka.key', 'Key', f.key),
      field('executor.kafka.payload', 'Payload', f.payload));

    const kind = () => (kindRadios.querySelector('input:checked') || {}).value || 'none';
    const mode = () => (modeRadios.querySelector('input:checked') || {}).value || 'argv';
    function syncExecutor() {
      commandBox.hidden = kind() !== 'command';
      httpBox.hidden = kind() !== 'http';
      kafkaBox.hidden = kind() !== 'kafka';
      argvField.hidden = mode() !== 'argv';
      scriptField.hidden = mode() !== 'shell';
    }
    kindRadios.addEventListener('change', syncExecutor);
    modeRadios.addEventListener('change', syncExecutor);

    const formError = h('p', {id: 'form-error', class: 'error', role: 'alert'});
    const submit = h('button', {type: 'submit', id: 'job-submit', class: 'primary', text: editing ? 'Save changes' : 'Create job'});
    const form = h('form', {id: 'job-form', novalidate: true},
      group('basics', 'Job',
        field('name', 'Name', f.name),
        field('description', 'Description', f.description),
        field('status', 'Status', f.status)),
      group('schedule', 'Schedule',
        field('cron_expression', 'Cron expression', f.cron,
          '5 or 6 fields, @daily, @every 90s, CRON_TZ= prefix (docs/cron.md).'),
        field('timezone', 'Time zone (IANA)', f.timezone),
        h('datalist', {id: 'tz-list'}, zones.map((z) => h('option', {value: z}))),
        h('div', {class: 'preview'}, h('h3', {id: 'cron-preview-title', text: 'Next 5 fire times'}), preview)),
      group('executor', 'Executor: what a run does', kindRadios, commandBox, httpBox, kafkaBox),
      group('resources', 'Resources per run',
        field('resources.cpu', 'CPU (millicores)', f.cpu),
        field('resources.memory', 'Memory (MiB)', f.memory),
        field('resources.storage', 'Storage (MiB)', f.storage)),
      group('placement', 'Placement and policies',
        field('constraints', 'Constraints: worker labels, key=value per line', f.constraints),
        field('priority', 'Priority (0-1000, higher first)', f.priority),
        field('overlap_policy', 'Overlap policy', f.overlap),
        field('misfire_policy', 'Misfire policy', f.misfire),
        field('starting_deadline', 'Starting deadline (seconds, 0: none)', f.deadline),
        field('timeout', 'Timeout (seconds, 0: none)', f.timeout)),
      group('retry_backoff', 'Retries',
        field('max_retries', 'Max retries (0-100)', f.maxRetries),
        field('retry_backoff.initial_seconds', 'Initial backoff (s, 0: default 1)', f.backoffInitial),
        field('retry_backoff.max_seconds', 'Max backoff (s, 0: default 300)', f.backoffMax),
        field('retry_backoff.multiplier', 'Multiplier (0: default 2)', f.backoffMultiplier)),
      group('metadata', 'Metadata', field('metadata', 'Labels, key=value per line', f.metadata)),
      formError,
      h('div', {class: 'buttons'}, submit,
        h('a', {class: 'button', href: editing ? `#/jobs/${id}` : '#/jobs', text: 'Cancel'})));
    main.append(
      h('p', {class: 'crumbs'}, h('a', {href: '#/jobs', text: '← Jobs'})),
      h('h1', {id: 'form-title', text: editing ? 'Edit job' : 'New job'}),
      form);
    syncExecutor();

    function clearErrors() {
      form.querySelectorAll('.field-error').forEach((el) => { el.textContent = ''; });
      form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
      formError.textContent = '';
    }

    // Shows "field.path: why" against the closest field; false if none.
    function showFieldError(message, focus) {
      let m = /^([A-Za-z_][\w.]*): (.*)$/s.exec(message);
      if (!m) m = /^invalid JSON body: \(?([A-Za-z_][\w.]*)\)?: (.*)$/s.exec(message);
      if (!m) return false;
      // A shell script travels as argv[0]: its errors belong to the script box.
      const target = m[1] === 'executor.command.argv' && mode() === 'shell' ? 'executor.command.script' : m[1];
      const path = target.split('.');
      while (path.length) {
        const name = path.join('.');
        const box = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
        const slot = box && box.querySelector(`#err-${CSS.escape(name.replace(/\./g, '-'))}`);
        if (slot && !box.closest('[hidden]')) {
          slot.textContent = message;
          const control = box.matches('.field') ? box.querySelector('input, select, textarea') : null;
          if (control) {
            control.setAttribute('aria-invalid', 'true');
            if (focus) control.focus();
          }
          return true;
        }
        path.pop();
      }
      return false;
    }

    async function updatePreview() {
      const mine = ++seq;
      if (!form.isConnected) return;  // the user has left the form
      const expr = f.cron.value;
      const zone = f.timezone.value.trim() || 'UTC';
      for (const name of ['cron_expression', 'timezone']) {
        form.querySelector(`#err-${name}`).textContent = '';
      }
      f.cron.removeAttribute('aria-invalid');
      f.timezone.removeAttribute('aria-invalid');
      if (!expr.trim()) {
        preview.replaceChildren(h('p', {class: 'muted', text: 'Type a cron expression to see when it fires.'}));
        return;
      }
      try {
        const r = await api('GET', `/v1/cron/next?expr=${enc(expr)}&tz=${enc(zone)}&count=5`);
        if (mine !== seq) return;
        preview.replaceChildren(h('p', {class: 'muted small', text: `In ${r.timezone}:`}),
          firesList({times: r.times, local: r.local_times, error: ''}, 'fires'));
      } catch (e) {
        if (mine !== seq) return;
        preview.replaceChildren();
        const msg = e.message || '';
        if (msg.startsWith('expr: ')) showFieldError(`cron_expression: ${msg.slice(6)}`);
        else if (msg.startsWith('tz: ')) showFieldError(`timezone: ${msg.slice(4)}`);
        else preview.replaceChildren(h('p', {class: 'error', text: msg}));
      }
    }
    let debounce = 0;
    const schedulePreview = () => { clearTimeout(debounce); debounce = setTimeout(updatePreview, 250); };
    f.cron.addEventListener('input', schedulePreview);
    f.timezone.addEventListener('input', schedulePreview);

    function fill(job) {
      f.name.value = job.name || '';
      f.description.value = job.description || '';
      f.cron.value = job.cron_expression || '';
      f.timezone.value = job.timezone || 'UTC';
      f.status.value = job.status || 'ACTIVE';
      f.priority.value = job.priority || 0;
      f.maxRetries.value = job.max_retries || 0;
      f.timeout.value = job.timeout || 0;
      f.deadline.value = job.starting_deadline || 0;
      f.metadata.value = mapText(job.metadata);
      f.constraints.value = mapText(job.constraints);
      f.overlap.value = job.overlap_policy || 'ALLOW';
      f.misfire.value = job.misfire_policy || 'RUN_ONCE';
      const r = job.resources || {};
      f.cpu.value = r.cpu || 0;
      f.memory.value = r.memory || 0;
      f.storage.value = r.storage || 0;
      const b = job.retry_backoff || {};
      f.backoffInitial.value = b.initial_seconds || 0;
      f.backoffMax.value = b.max_seconds || 0;
      f.backoffMultiplier.value = b.multiplier || 0;
      const ex = job.executor || {};
      let k = 'none';
      if (ex.command) {
        k = 'command';
        const shell = Boolean(ex.command.shell);
        modeRadios.querySelector(`input[value="${shell ? 'shell' : 'argv'}"]`).checked = true;
        if (shell) f.script.value = (ex.command.argv || [])[0] || '';
        else f.argv.value = (ex.command.argv || []).join('\n');
        f.env.value = mapText(ex.command.env);
        f.workingDir.value = ex.command.working_dir || '';
      } else if (ex.http) {
        k = 'http';
        f.httpMethod.value = ex.http.method || 'GET';
        f.url.value = ex.http.url || '';
        f.headers.value = mapText(ex.http.headers, ': ');
        f.httpBody.value = ex.http.body || '';
        f.expected.value = ex.http.expected_status || 0;
      } else if (ex.kafka) {
        k = 'kafka';
        f.topic.value = ex.kafka.topic || '';
        f.key.value = ex.kafka.key || '';
        f.payload.value = ex.kafka.payload || '';
      }
      kindRadios.querySelector(`input[value="${k}"]`).checked = true;
      syncExecutor();
    }

    // The request body, or throws "field: why".
    function body() {
      const multiplier = f.backoffMultiplier.value.trim();
      if (multiplier !== '' && !Number.isFinite(Number(multiplier))) {
        throw new Error(`retry_backoff.multiplier: must be a number, got "${multiplier}"`);
      }
      const out = {
        name: f.name.value.trim(),
        description: f.description.value,
        cron_expression: f.cron.value.trim(),
        timezone: f.timezone.value.trim(),
        status: f.status.value,
        priority: parseInteger('priority', f.priority.value),
        max_retries: parseInteger('max_retries', f.maxRetries.value),
        timeout: parseInteger('timeout', f.timeout.value),
        starting_deadline: parseInteger('starting_deadline', f.deadline.value),
        metadata: parseMap('metadata', f.metadata.value),
        constraints: parseMap('constraints', f.constraints.value),
        overlap_policy: f.overlap.value,
        misfire_policy: f.misfire.value,
        resources: {cpu: parseInteger('resources.cpu', f.cpu.value),
          memory: parseInteger('resources.memory', f.memory.value),
          storage: parseInteger('resources.storage', f.storage.value)},
        retry_backoff: {initial_seconds: parseInteger('retry_backoff.initial_seconds', f.backoffInitial.value),
          max_seconds: parseInteger('retry_backoff.max_seconds', f.backoffMax.value),
          multiplier: multiplier === '' ? 0 : Number(multiplier)},
        executor: {},
      };
      if (kind() === 'command') {
        const argv = mode() === 'shell' ? [f.script.value] :
          f.argv.value.split('\n').map((s) => s.trim()).filter((s) => s !== '');
        out.executor = {command: {argv, shell: mode() === 'shell',
          env: parseMap('executor.command.env', f.env.value), working_dir: f.workingDir.value.trim()}};
      } else if (kind() === 'http') {
        out.executor = {http: {method: f.httpMethod.value, url: f.url.value.trim(),
          headers: parseMap('executor.http.headers', f.headers.value, ':'), body: f.httpBody.value,
          expected_status: parseInteger('executor.http.expected_status', f.expected.value)}};
      } else if (kind() === 'kafka') {
        out.executor = {kafka: {topic: f.topic.value.trim(), key: f.key.value, payload: f.payload.value}};
      }
      return out;
    }

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors();
      let request;
      try {
        request = body();
      } catch (e) {
        if (!showFieldError(e.message, true)) formError.textContent = e.message;
        return;
      }
      submit.disabled = true;
      try {
        if (editing) {
          await api('PUT', `/v1/jobs/${enc(id)}`, request);
          flash(`Saved “${request.name}”.`);
          location.hash = `#/jobs/${id}`;
        } else {
          const r = await api('POST', '/v1/jobs', request);
          flash(`Created “${request.name}”.`);
          location.hash = `#/jobs/${r.job_id}`;
        }
      } catch (e) {
        if (e.status === 401) return;
        if (!(e.status === 400 && showFieldError(e.message, true))) formError.textContent = e.message;
      } finally {
        submit.disabled = false;
      }
    });

    return {
      title: editing ? 'Edit job' : 'New job',
      async load() {
        if (editing) fill(await api('GET', `/v1/jobs/${enc(id)}`));
        updatePreview();
        f.name.focus();
      },
      refresh: null,  // a form is not polled: it would overwrite what is typed
    };
  }

  // ---------------------------------------------------------------- workers

  const UNITS = {cpu: 'm', memory: ' MiB', storage: ' MiB'};
  const DIMENSION_NAMES = {cpu: 'CPU', memory: 'Memory', storage: 'Storage'};

  function capacityBar(worker, dim) {
    const cap = (worker.capacity || {})[dim] || 0;
    const used = (worker.allocated || {})[dim] || 0;
    const id = `bar-${worker.id}-${dim}`.replace(/[^\w-]/g, '_');
    const pct = cap > 0 ? Math.round((100 * used) / cap) : 0;
    const text = cap > 0 ? `${used}${UNITS[dim]} of ${cap}${UNITS[dim]} allocated (${pct}%)` : 'no capacity';
    return h('div', {class: 'bar-row', dataset: {dimension: dim}},
      h('label', {for: id, text: DIMENSION_NAMES[dim]}),
      h('meter', {id, min: 0, max: Math.max(cap, 1), value: used, low: Math.max(cap, 1) * 0.7,
        high: Math.max(cap, 1) * 0.9, optimum: 0, title: text, 'aria-describedby': `${id}-text`,
        dataset: {allocated: used, capacity: cap}}),
      h('span', {class: 'bar-text', id: `${id}-text`, text}));
  }

  function workersView(main) {
    const list = h('div', {id: 'workers'});
    main.append(h('h1', {text: 'Workers'}), list);
    return {
      title: 'Workers',
      async refresh() {
        const r = await api('GET', '/v1/workers');
        const workers = r.workers || [];
        if (!workers.length) {
          list.replaceChildren(h('p', {class: 'muted', text: 'No workers.'}));
          return;
        }
        list.replaceChildren(...workers.map((w) => {
          const e = w.enforcement || {};
          const running = w.running_runs || [];
          return h('article', {class: 'worker card', dataset: {workerId: w.id}, 'aria-labelledby': `w-${w.id}`},
            h('h2', {id: `w-${w.id}`}, w.id, ' ', badge(w.state)),
            h('div', {class: 'bars'}, ['cpu', 'memory', 'storage'].map((d) => capacityBar(w, d))),
            h('dl', {class: 'definition compact'},
              h('dt', {text: 'Labels'}), h('dd', {class: 'worker-labels'},
                Object.keys(w.labels || {}).length ? Object.entries(w.labels).map(([k, v]) => h('code', {class: 'label', text: `${k}=${v}`})) :
                  h('span', {class: 'muted', text: 'none'})),
              h('dt', {text: 'Last heartbeat'}), h('dd', {}, timeEl(w.last_heartbeat, 'UTC')),
              h('dt', {text: 'Free'}), h('dd', {text: `cpu ${(w.free || {}).cpu || 0}m, memory ${(w.free || {}).memory || 0} MiB, storage ${(w.free || {}).storage || 0} MiB`}),
              h('dt', {text: 'Running runs'}), h('dd', {class: 'worker-running'},
                h('span', {class: 'running-count', text: String(running.length)}),
                running.length ? h('ul', {class: 'ids'}, running.map((id) => h('li', {}, h('code', {text: id})))) : null),
              h('dt', {text: 'Enforced'}), h('dd', {class: 'worker-enforcement'},
                `memory: ${e.memory || 'none'}, cpu: ${e.cpu || 'none'}, storage: ${e.storage || 'none'}`,
                e.detail ? h('div', {class: 'muted small', text: e.detail}) : null)));
        }));
      },
    };
  }

  // ---------------------------------------------------------------- queue

  function queueView(main) {
    const names = new Map();  // job id -> name
    const tbody = h('tbody');
    const total = h('p', {id: 'queue-total'});
    main.append(h('h1', {text: 'Queue'}),
      h('p', {class: 'muted', text: 'Runs waiting for a worker with room, in the order they will be placed.'}),
      total,
      tableBox(h('table', {id: 'queue-table', class: 'data'},
        h('caption', {class: 'visually-hidden', text: 'Waiting runs'}),
        h('thead', {}, h('tr', {}, ['#', 'Run', 'Job', 'Priority', 'Scheduled', 'Queued at', 'Needs',
          'Constraints', 'Reason'].map((t) => h('th', {scope: 'col', text: t})))),
        tbody)));
    return {
      title: 'Queue',
      async refresh() {
        const r = await api('GET', '/v1/scheduler/queue');
        const runs = r.runs || [];
        const unknown = [...new Set(runs.map((q) => q.job_id))].filter((id) => !names.has(id)).slice(0, 20);
        await Promise.all(unknown.map(async (id) => {
          try {
            names.set(id, (await api('GET', `/v1/jobs/${enc(id)}`)).name);
          } catch (e) {
            if (e.status === 401) throw e;
            names.set(id, id);
          }
        }));
        total.textContent = `${r.total || 0} waiting`;
        if (!runs.length) {
          tbody.replaceChildren(h('tr', {class: 'empty'}, h('td', {colspan: 9, text: 'Nothing is waiting.'})));
          return;
        }
        tbody.replaceChildren(...runs.map((q, i) => {
          const res = q.resources || {};
          return h('tr', {dataset: {runId: q.run_id}},
            h('td', {text: String(i + 1)}),
            h('td', {}, h('code', {text: q.run_id})),
            h('td', {}, h('a', {href: `#/jobs/${q.job_id}`, text: names.get(q.job_id) || q.job_id})),
            h('td', {text: String(q.priority || 0)}),
            h('td', {}, timeEl(q.scheduled_time, 'UTC')),
            h('td', {}, timeEl(q.queued_at, 'UTC')),
            h('td', {text: `cpu ${res.cpu || 0}m, memory ${res.memory || 0} MiB, storage ${res.storage || 0} MiB`}),
            h('td', {}, Object.entries(q.constraints || {}).map(([k, v]) => h('code', {class: 'label', text: `${k}=${v}`}))),
            h('td', {class: 'queue-reason', text: q.reason || ''}));
        }));
      },
    };
  }

  // ---------------------------------------------------------------- routing and polling

  let view = null;
  let timer = 0;
  let generation = 0;

  function route() {
    const parts = (location.hash.replace(/^#\/?/, '') || 'jobs').split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'jobs' && parts[1] === 'new' && parts.length === 2) return {nav: 'jobs', make: (m) => jobFormView(m, '')};
    if (parts[0] === 'jobs' && parts.length === 3 && parts[2] === 'edit') return {nav: 'jobs', make: (m) => jobFormView(m, parts[1])};
    if (parts[0] === 'jobs' && parts.length === 2) return {nav: 'jobs', make: (m) => jobDetailView(m, parts[1])};
    if (parts[0] === 'jobs' && parts.length === 1) return {nav: 'jobs', make: jobsView};
    if (parts[0] === 'workers' && parts.length === 1) return {nav: 'workers', make: workersView};
    if (parts[0] === 'queue' && parts.length === 1) return {nav: 'queue', make: queueView};
    return {nav: '', make: (m) => {
      m.append(h('h1', {text: 'Not found'}), h('p', {}, 'No such page. ', h('a', {href: '#/jobs', text: 'Go to the jobs.'})));
      return {title: 'Not found', refresh: null};
    }};
  }

  async function poll(gen) {
    if (gen !== generation || !view || !view.refresh) return;
    clearTimeout(timer);
    if (!document.hidden && !$('#token-dialog').open) {
      try {
        await view.refresh();
        if (gen !== generation) return;
        showError(null);
        setUpdated(true);
      } catch (e) {
        if (gen !== generation) return;
        showError(e);
        setUpdated(false);
      }
    }
    if (gen === generation) timer = setTimeout(() => poll(gen), POLL_MS);
  }

  function refreshNow() { poll(generation); }

  async function render() {
    generation += 1;
    clearTimeout(timer);
    const gen = generation;
    const r = route();
    const main = $('#main');
    main.replaceChildren();
    showError(null);
    document.querySelectorAll('[data-nav]').forEach((a) => {
      if (a.dataset.nav === r.nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    view = r.make(main);
    document.title = `${view.title} · DTS`;
    if (view.load) {
      try {
        await view.load();
        setUpdated(true);
      } catch (e) {
        showError(e);
      }
    }
    if (gen === generation && view.refresh) await poll(gen);
    else if (gen === generation) $('#updated').textContent = 'Live updates paused on this page';
  }

  let lastHash = null;
  window.addEventListener('hashchange', () => {
    if (location.hash === lastHash) return;
    lastHash = location.hash;
    render().then(() => $('#main').focus({preventScroll: true}));
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshNow(); });

  document.addEventListener('DOMContentLoaded', () => {
    setUpTokenDialog();
    // The skip link must not change location.hash: that selects the view.
    $('#skip-link').addEventListener('click', (event) => {
      event.preventDefault();
      $('#main').focus();
    });
    if (!location.hash) history.replaceState(null, '', '#/jobs');
    lastHash = location.hash;
    render();
  });
})();
