// Agent Jobs dashboard: a client of the public API. The app token lives in sessionStorage
// and goes out as `Authorization: Bearer`; the server decides what it may see and do.
// Every text from the API is set with textContent (never parsed as HTML).
'use strict';

const STATUSES = ['WAITING', 'SCHEDULED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELED'];
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELED']);
const TOKEN_KEY = 'agentJobs.token';
const ACCESS_KEY = 'agentJobs.access';
const ORG_KEY = 'agentJobs.org';
const REFRESH_KEY = 'agentJobs.autoRefresh';
const REFRESH_MS = 5000;
const JOB_SORTS = [
  ['created_at:desc', 'Newest first'],
  ['created_at:asc', 'Oldest first'],
  ['scheduled_at:asc', 'Scheduled soonest'],
  ['scheduled_at:desc', 'Scheduled latest'],
  ['updated_at:desc', 'Recently updated'],
  ['job_status:asc,created_at:desc', 'Status, then newest'],
  ['job_type_id:asc,created_at:desc', 'Job type, then newest'],
  ['channel_code:asc,created_at:desc', 'Channel, then newest'],
];

let refreshTimer = null;
let renderSerial = 0;

// ---------- small helpers ----------

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// Replaces the children of `element` (arrays flattened, null and false left out). A control
// that had the focus keeps it across the refresh when the new content has one with its id.
function mount(element, ...children) {
  const active = document.activeElement;
  const focused = active && active !== element && element.contains(active) ? active.id : '';
  element.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  const again = focused && document.getElementById(focused);
  if (again) again.focus();
}

function svg(tag, attributes) {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, String(value));
  return element;
}

function time(value) {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

function timeCell(value) {
  return value ? h('time', { datetime: value, title: value }, time(value)) : '—';
}

function duration(from, to) {
  if (!from || !to) return '—';
  return millis(new Date(to) - new Date(from));
}

function millis(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  if (ms < 3600000) return `${(ms / 60000).toFixed(1)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

function json(value) {
  return h('pre', {}, JSON.stringify(value, null, 2));
}

function badge(status) {
  return h('span', { class: `badge ${status}` }, status);
}

function text(value) {
  return value === null || value === undefined || value === '' ? '—' : String(value);
}

function notice(message) {
  const box = document.getElementById('notice');
  box.textContent = message;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { box.textContent = ''; }, 4000);
}

function fields(pairs) {
  return h('dl', { class: 'fields' }, pairs.flatMap(([name, value]) => [h('dt', {}, name), h('dd', {}, value)]));
}

function table(columns, rows, { caption, label } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'cards', 'aria-label': label },
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell, i) => h('td', { 'data-label': columns[i] }, cell)))))));
}

// ---------- session and API ----------

const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get access() { return JSON.parse(sessionStorage.getItem(ACCESS_KEY) || '[]'); },
  get org() { return sessionStorage.getItem(ORG_KEY) || ''; },
  get canWrite() { return this.access.includes('services:write'); },
  get autoRefresh() { return sessionStorage.getItem(REFRESH_KEY) === 'on'; },
  set autoRefresh(on) { sessionStorage.setItem(REFRESH_KEY, on ? 'on' : 'off'); },
  save(token, meta) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ACCESS_KEY, JSON.stringify(meta.access || []));
    sessionStorage.setItem(ORG_KEY, meta.org_id || '');
  },
  clear() {
    for (const key of [TOKEN_KEY, ACCESS_KEY, ORG_KEY]) sessionStorage.removeItem(key);
  },
};

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error && body.error.code;
  }
}

async function api(method, path, body, token = session.token) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
  });
  if (response.status === 204) return null;
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && token === session.token) {
      session.clear();
      showSignIn('Your token was refused (it may have been revoked). Sign in again.');
    }
    throw new APIError(response.status, payload);
  }
  return payload;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// ---------- routing ----------

function route() {
  const hash = location.hash.replace(/^#/, '') || '/jobs';
  const [path, search = ''] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(search) };
}

function go(path, params) {
  location.hash = `#${path}${params ? query(params) : ''}`;
}

async function render() {
  clearInterval(refreshTimer);
  refreshTimer = null;
  if (!session.token) return showSignIn();
  const serial = ++renderSerial;
  const { parts, params } = route();
  document.getElementById('nav').hidden = false;
  document.getElementById('sign-out').hidden = false;
  document.getElementById('who').textContent =
    `${session.org} · ${session.canWrite ? 'read and write' : 'read only'}`;
  const page = parts[0] || 'jobs';
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  try {
    if (page === 'overview') await overviewPage(main, serial);
    else if (page === 'jobs' && parts[1]) await jobPage(main, parts[1], serial);
    else if (page === 'jobs') await jobsPage(main, params, serial);
    else if (page === 'schedules' && parts[1]) await schedulePage(main, parts[1], serial);
    else if (page === 'schedules') await schedulesPage(main, params, serial);
    else mount(main, h('h1', {}, 'Not found'), h('p', {}, 'No such page.'));
  } catch (error) {
    if (serial !== renderSerial || !session.token) return;
    mount(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, error.message));
  }
}

function current(serial) {
  return serial === renderSerial;
}

function startRefresh(task) {
  clearInterval(refreshTimer);
  if (session.autoRefresh) refreshTimer = setInterval(task, REFRESH_MS);
}

function refreshToggle(task) {
  const box = h('input', { type: 'checkbox', id: 'auto-refresh', checked: session.autoRefresh });
  box.addEventListener('change', () => {
    session.autoRefresh = box.checked;
    startRefresh(task);
    notice(box.checked ? 'Auto-refresh on (every 5 s)' : 'Auto-refresh off');
  });
  startRefresh(task);
  return h('label', { class: 'check', for: 'auto-refresh' }, box, 'Auto-refresh every 5 s');
}

// ---------- sign-in ----------

function showSignIn(message) {
  clearInterval(refreshTimer);
  document.getElementById('nav').hidden = true;
  document.getElementById('sign-out').hidden = true;
  document.getElementById('who').textContent = '';
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false', placeholder: 'aj_…', 'aria-describedby': 'token-help',
  });
  const error = h('p', { id: 'sign-in-error', class: 'error', role: 'alert' }, message || '');
  const form = h('form', { class: 'panel sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h('label', { for: 'token' }, 'App token'), input,
    h('p', { id: 'token-help' },
      'Paste an app token (agent-jobs tokens create). It stays in this tab only (sessionStorage) ',
      'and is sent to this server’s API; you see what its organization may see.'),
    error,
    h('div', { class: 'row' }, h('button', { type: 'submit', id: 'sign-in' }, 'Sign in')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    error.textContent = '';
    try {
      const stats = await api('GET', '/services/agent-jobs/stats', undefined, token);
      session.save(token, stats.meta);
      if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/jobs';
      else render();
    } catch (failure) {
      error.textContent = failure.status === 401
        ? `That token was refused: ${failure.message}.`
        : `Could not sign in: ${failure.message}`;
      input.focus();
    }
  });
  mount(document.getElementById('main'), form);
  input.focus();
}

// ---------- overview ----------

async function overviewPage(main, serial) {
  const stats = await api('GET', '/services/agent-jobs/stats');
  if (!current(serial)) return;
  const data = stats.data;
  const total = STATUSES.reduce((sum, status) => sum + data.counts[status], 0);
  const tiles = h('div', { class: 'tiles', id: 'status-counts' },
    h('a', { class: 'tile', href: '#/jobs' }, h('span', { class: 'figure' }, total.toLocaleString()), 'All jobs'),
    STATUSES.map((status) => h('a', { class: 'tile', href: `#/jobs?status=${status}`, 'data-status': status },
      h('span', { class: 'figure' }, data.counts[status].toLocaleString()), status)));
  const percentiles = table(['Figure', 'Samples', 'p50', 'p90', 'p99', 'Max'], [
    ['Due → start lag', data.due_to_start_ms.samples, millis(data.due_to_start_ms.p50), millis(data.due_to_start_ms.p90),
      millis(data.due_to_start_ms.p99), millis(data.due_to_start_ms.max)],
    ['Task duration', data.task_duration_ms.samples, millis(data.task_duration_ms.p50), millis(data.task_duration_ms.p90),
      millis(data.task_duration_ms.p99), millis(data.task_duration_ms.max)],
  ], { label: 'Task percentiles' });
  const created = data.per_minute.reduce((sum, m) => sum + m.created, 0);
  const finished = data.per_minute.reduce((sum, m) => sum + m.finished, 0);
  mount(main, 
    h('h1', {}, 'Overview'),
    h('div', { class: 'row' }, refreshToggle(() => overviewPage(main, serial)),
      h('span', { class: 'muted', id: 'generated-at', 'data-at': data.generated_at }, `Updated ${time(data.generated_at)}`)),
    h('h2', {}, 'Jobs by status'), tiles,
    h('h2', {}, 'The last hour'),
    h('div', { class: 'panel' },
      h('p', { class: 'muted' }, `${created.toLocaleString()} created, ${finished.toLocaleString()} finished since ${time(data.since)}`),
      chart(data.per_minute),
      h('div', { class: 'legend' },
        h('span', {}, h('span', { class: 'swatch created' }), 'created per minute'),
        h('span', {}, h('span', { class: 'swatch finished' }), 'finished per minute')),
      minuteTable(data.per_minute)),
    h('h2', {}, 'Tasks of the last hour'),
    h('p', { class: 'muted' }, 'Over the tasks of the 2,000 most recently updated jobs.'),
    percentiles);
}

function chart(minutes) {
  const width = 600;
  const height = 160;
  const top = Math.max(1, ...minutes.map((m) => Math.max(m.created, m.finished)));
  const slot = width / minutes.length;
  const bar = Math.max(1, slot / 2 - 1);
  const root = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height + 14}`, role: 'img',
    'aria-label': 'Jobs created and finished per minute over the last hour', preserveAspectRatio: 'none' });
  root.append(svg('line', { class: 'axis', x1: 0, y1: height, x2: width, y2: height }));
  minutes.forEach((m, i) => {
    const x = i * slot;
    const createdHeight = (m.created / top) * height;
    const finishedHeight = (m.finished / top) * height;
    root.append(svg('rect', { class: 'created', x, y: height - createdHeight, width: bar, height: createdHeight }));
    root.append(svg('rect', { class: 'finished', x: x + bar + 1, y: height - finishedHeight, width: bar, height: finishedHeight }));
  });
  const label = (x, anchor, content) => {
    const element = svg('text', { x, y: height + 12, 'text-anchor': anchor });
    element.textContent = content;
    return element;
  };
  root.append(label(0, 'start', '-60 min'), label(width, 'end', 'now'));
  const peak = svg('text', { x: 2, y: 10 });
  peak.textContent = `peak ${top}/min`;
  root.append(peak);
  return root;
}

function minuteTable(minutes) {
  const rows = minutes.filter((m) => m.created || m.finished)
    .map((m) => [time(m.minute), m.created, m.finished]);
  return h('details', {}, h('summary', {}, 'Minutes with activity, as a table'),
    rows.length ? table(['Minute', 'Created', 'Finished'], rows, { label: 'Jobs per minute' })
      : h('p', { class: 'muted' }, 'No job was created or finished in the last hour.'));
}

// ---------- jobs ----------

async function jobsPage(main, params, serial) {
  const selected = new Set((params.get('status') || '').split(',').filter((s) => STATUSES.includes(s)));
  const limit = Number(params.get('limit')) || 20;
  const offset = Number(params.get('offset')) || 0;
  const filters = {
    status: [...selected].join(','),
    job_type_id: params.get('job_type_id') || '',
    channel_code: params.get('channel_code') || '',
    schedule_id: params.get('schedule_id') || '',
    created_at_gte: params.get('created_at_gte') || '',
    created_at_lte: params.get('created_at_lte') || '',
    sort: params.get('sort') || 'created_at:desc',
  };
  const apply = (changes) => go('/jobs', { ...filters, limit, offset: 0, ...changes });

  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Filter by status' });
  const allChip = h('button', { type: 'button', class: 'chip', 'aria-pressed': String(selected.size === 0), 'data-status': '' },
    'All', h('span', { class: 'count', id: 'count-all' }));
  allChip.addEventListener('click', () => apply({ status: '' }));
  chips.append(allChip);
  for (const status of STATUSES) {
    const chip = h('button', { type: 'button', class: 'chip', 'aria-pressed': String(selected.has(status)), 'data-status': status },
      status, h('span', { class: 'count', id: `count-${status}` }));
    chip.addEventListener('click', () => {
      const next = new Set(selected);
      if (next.has(status)) next.delete(status); else next.add(status);
      apply({ status: STATUSES.filter((s) => next.has(s)).join(',') });
    });
    chips.append(chip);
  }

  const input = (id, label, value, type = 'text') => [
    h('label', { for: id }, label),
    h('input', { id, name: id, type, value, autocomplete: 'off' }),
  ];
  const sortSelect = h('select', { id: 'f-sort', name: 'sort' },
    JOB_SORTS.map(([value, label]) => h('option', { value, selected: value === filters.sort }, label)));
  if (!JOB_SORTS.some(([value]) => value === filters.sort)) {
    sortSelect.append(h('option', { value: filters.sort, selected: true }, filters.sort));
  }
  const limitSelect = h('select', { id: 'f-limit', name: 'limit' },
    [20, 50, 100, 200].map((n) => h('option', { value: n, selected: n === limit }, `${n} per page`)));
  const form = h('form', { class: 'panel', 'aria-label': 'Job filters', id: 'job-filters' },
    chips,
    h('div', { class: 'filters' },
      h('div', {}, input('f-type', 'Job type', filters.job_type_id)),
      h('div', {}, input('f-channel', 'Channel code', filters.channel_code)),
      h('div', {}, input('f-from', 'Created from', toLocalInput(filters.created_at_gte), 'datetime-local')),
      h('div', {}, input('f-to', 'Created until', toLocalInput(filters.created_at_lte), 'datetime-local')),
      h('div', {}, h('label', { for: 'f-sort' }, 'Sort'), sortSelect),
      h('div', {}, h('label', { for: 'f-limit' }, 'Page size'), limitSelect)),
    filters.schedule_id ? h('p', {}, 'Only jobs of schedule ', h('a', { href: `#/schedules/${encodeURIComponent(filters.schedule_id)}` }, filters.schedule_id),
      ' ', h('button', { type: 'button', class: 'secondary', id: 'clear-schedule', onclick: () => apply({ schedule_id: '' }) }, 'Show all')) : null,
    h('div', { class: 'row' },
      h('button', { type: 'submit', id: 'apply-filters' }, 'Apply filters'),
      h('button', { type: 'button', class: 'secondary', id: 'reset-filters', onclick: () => go('/jobs') }, 'Reset')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apply({
      job_type_id: form.querySelector('#f-type').value.trim(),
      channel_code: form.querySelector('#f-channel').value.trim(),
      created_at_gte: fromLocalInput(form.querySelector('#f-from').value),
      created_at_lte: fromLocalInput(form.querySelector('#f-to').value),
      sort: sortSelect.value,
      limit: Number(limitSelect.value),
    });
  });

  const results = h('div', { id: 'job-results', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  // Each chip counts the jobs of its status that match the other filters (meta.total of a
  // one-job page: the counters answer it, exact and fast, unless a time range caps it).
  const others = { ...filters, status: '', sort: '' };
  const shown = (meta) => (meta.total_exact ? meta.total.toLocaleString() : `${meta.total.toLocaleString()}+`);
  const load = async () => {
    const [page, all, ...perStatus] = await Promise.all([
      api('GET', `/services/agent-jobs${query({ ...filters, limit, offset })}`),
      api('GET', `/services/agent-jobs${query({ ...others, limit: 1 })}`),
      ...STATUSES.map((status) => api('GET', `/services/agent-jobs${query({ ...others, status, limit: 1 })}`)),
    ]);
    if (!current(serial)) return;
    document.getElementById('count-all').textContent = shown(all.meta);
    STATUSES.forEach((status, i) => { document.getElementById(`count-${status}`).textContent = shown(perStatus[i].meta); });
    mount(results, jobTable(page, limit, offset, apply));
  };

  mount(main, h('h1', {}, 'Jobs'), form, h('div', { class: 'row' }, refreshToggle(() => load().catch(() => {}))), results);
  await load();
}

function jobTable(page, limit, offset, apply) {
  const meta = page.meta;
  const total = meta.total_exact ? meta.total.toLocaleString() : `more than ${meta.total.toLocaleString()}`;
  if (page.data.length === 0) {
    return [h('p', { id: 'no-jobs' }, offset > 0 ? 'No jobs on this page.' : 'No job matches these filters.')];
  }
  const first = offset + 1;
  const last = offset + page.data.length;
  const rows = page.data.map((job) => [
    h('a', { href: `#/jobs/${encodeURIComponent(job.job_id)}`, class: 'job-link' }, job.job_id),
    badge(job.job_status), job.job_type_id, job.channel_code,
    timeCell(job.created_at), timeCell(job.scheduled_at), timeCell(job.updated_at),
  ]);
  const previous = h('button', { type: 'button', class: 'secondary', id: 'previous-page', disabled: offset === 0 }, 'Previous');
  previous.addEventListener('click', () => apply({ offset: Math.max(0, offset - limit) }));
  const next = h('button', { type: 'button', class: 'secondary', id: 'next-page', disabled: last >= meta.total && meta.total_exact }, 'Next');
  next.addEventListener('click', () => apply({ offset: offset + limit }));
  if (page.data.length < limit) next.disabled = true;
  return [
    table(['Job', 'Status', 'Job type', 'Channel', 'Created', 'Scheduled', 'Updated'], rows,
      { caption: `Jobs ${first.toLocaleString()}–${last.toLocaleString()} of ${total}`, label: 'Jobs' }),
    h('nav', { class: 'pager', 'aria-label': 'Pages of jobs' }, previous,
      h('span', { id: 'page-position' }, `${first.toLocaleString()}–${last.toLocaleString()} of ${total}`), next),
  ];
}

function toLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

function fromLocalInput(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

// ---------- one job ----------

async function jobPage(main, id, serial) {
  const load = async () => {
    const envelope = await api('GET', `/services/agent-jobs/${encodeURIComponent(id)}`);
    // An open cancel dialog stays as it is until it closes.
    if (!current(serial) || document.querySelector('dialog[open]')) return;
    const job = envelope.data;
    mount(main, ...jobView(job, () => load()));
    if (TERMINAL.has(job.job_status)) clearInterval(refreshTimer);
  };
  try {
    await load();
  } catch (error) {
    if (error.status === 404 || error.status === 403) {
      mount(main, h('h1', {}, 'Job not found'), h('p', {}, `No job ${id} for this organization.`),
        h('p', {}, h('a', { href: '#/jobs' }, 'Back to jobs')));
      return;
    }
    throw error;
  }
  const job = document.getElementById('job-status');
  if (job && !TERMINAL.has(job.textContent)) startRefresh(() => load().catch(() => {}));
}

function jobView(job, reload) {
  const terminal = TERMINAL.has(job.job_status);
  const actions = h('div', { class: 'actions' },
    h('a', { href: '#/jobs' }, '← All jobs'),
    h('button', { type: 'button', class: 'secondary', id: 'refresh-job', onclick: reload }, 'Refresh'));
  let dialog = null;
  if (session.canWrite && !terminal) {
    dialog = cancelDialog(job, reload);
    actions.append(h('button', { type: 'button', class: 'danger', id: 'cancel-job', onclick: () => dialog.showModal() }, 'Cancel job…'));
  }
  const tasks = job.tasks.map((task) => [
    task.attempt, task.kind.replace('_', '-'), timeCell(task.started_at), duration(task.started_at, task.finished_at),
    badge(task.status), h('span', { class: 'wrap' }, text(task.result)), h('span', { class: 'wrap' }, text(task.error)),
  ]);
  const progress = job.tasks.flatMap((task) => (task.progress || []).map((entry) => [
    timeCell(entry.created_at), `attempt ${task.attempt}`, h('span', { class: 'wrap' }, text(entry.message)),
    entry.data === null ? '—' : json(entry.data),
  ]));
  const events = (job.events || []).map((event) => [
    timeCell(event.created_at), event.type, event.data === null ? '—' : json(event.data), text(event.delivered_to_task_id),
  ]);
  const channel = job.target_channel;
  return [
    h('h1', {}, 'Job ', h('span', { id: 'job-id' }, job.job_id)),
    h('p', {}, h('span', { id: 'job-status', class: `badge ${job.job_status}` }, job.job_status)),
    actions,
    dialog,
    h('div', { class: 'panel' }, fields([
      ['Job type', job.job_type_id],
      ['Channel', `${channel.platform} ${channel.type} ${channel.code}`],
      ['Created', timeCell(job.created_at)],
      ['Scheduled', timeCell(job.scheduled_at)],
      ['Started', timeCell(job.started_at)],
      ['Finished', timeCell(job.finished_at)],
      ['Next task due', timeCell(job.next_run_at)],
      ['Updated', timeCell(job.updated_at)],
      ['Schedule', job.schedule_id ? h('a', { href: `#/schedules/${encodeURIComponent(job.schedule_id)}` }, job.schedule_id) : '—'],
      ['Result', h('span', { class: 'wrap', id: 'job-result' }, text(job.result))],
      ['Cancel reason', h('span', { id: 'cancel-reason' }, text(job.cancel_reason))],
    ])),
    h('h2', {}, 'Tasks'),
    tasks.length ? table(['Attempt', 'Kind', 'Started', 'Duration', 'Status', 'Result', 'Error'], tasks, { label: 'Task timeline' })
      : h('p', { class: 'muted' }, 'No task has started yet.'),
    progress.length ? [h('h2', {}, 'Progress'), table(['Time', 'Task', 'Message', 'Data'], progress, { label: 'Progress reports' })] : null,
    events.length ? [h('h2', {}, 'Events'), table(['Time', 'Type', 'Data', 'Delivered to task'], events, { label: 'Events' })] : null,
    h('h2', {}, 'Config'), json(job.config),
    h('h2', {}, 'Params'), json(job.params),
    h('h2', {}, 'Target channel'), json(channel),
  ];
}

function cancelDialog(job, reload) {
  const reason = h('input', { id: 'cancel-reason-input', name: 'reason', type: 'text', maxlength: 500, autocomplete: 'off' });
  const error = h('p', { class: 'error', role: 'alert' });
  const dialog = h('dialog', { id: 'cancel-dialog', 'aria-labelledby': 'cancel-title' });
  const form = h('form', {},
    h('h2', { id: 'cancel-title' }, `Cancel ${job.job_id}?`),
    h('p', {}, 'A running task is interrupted. This cannot be undone.'),
    h('label', { for: 'cancel-reason-input' }, 'Reason (shown as the job’s cancel reason)'), reason,
    error,
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'danger', id: 'confirm-cancel' }, 'Cancel the job'),
      h('button', { type: 'button', class: 'secondary', id: 'keep-job', onclick: () => dialog.close() }, 'Keep it')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
    try {
      await api('DELETE', `/services/agent-jobs/${encodeURIComponent(job.job_id)}`, body);
      dialog.close();
      notice(`Job ${job.job_id} canceled`);
      await reload();
    } catch (failure) {
      error.textContent = failure.message;
      if (failure.status === 409) { dialog.close(); await reload(); notice(failure.message); }
    }
  });
  dialog.append(form);
  return dialog;
}

// ---------- schedules ----------

async function schedulesPage(main, params, serial) {
  const limit = 50;
  const offset = Number(params.get('offset')) || 0;
  const page = await api('GET', `/services/agent-schedules${query({ limit, offset, sort: 'created_at:desc' })}`);
  if (!current(serial)) return;
  const rows = page.data.map((s) => [
    h('a', { href: `#/schedules/${encodeURIComponent(s.schedule_id)}`, class: 'schedule-link' }, s.name || s.schedule_id),
    h('code', {}, s.cron), s.timezone, s.job.job_type_id, s.paused ? 'paused' : 'active',
    timeCell(s.next_run_at), timeCell(s.last_run_at), s.runs,
  ]);
  const previous = h('button', { type: 'button', class: 'secondary', disabled: offset === 0,
    onclick: () => go('/schedules', { offset: Math.max(0, offset - limit) }) }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary', disabled: offset + page.data.length >= page.meta.total,
    onclick: () => go('/schedules', { offset: offset + limit }) }, 'Next');
  mount(main, 
    h('h1', {}, 'Schedules'),
    rows.length
      ? [table(['Schedule', 'Cron', 'Time zone', 'Job type', 'State', 'Next run', 'Last run', 'Jobs created'], rows,
        { caption: `${page.meta.total.toLocaleString()} schedules`, label: 'Schedules' }),
      h('nav', { class: 'pager', 'aria-label': 'Pages of schedules' }, previous, next)]
      : h('p', {}, 'No schedules yet. Create one with POST /services/agent-schedules.'));
}

async function schedulePage(main, id, serial) {
  let envelope;
  try {
    envelope = await api('GET', `/services/agent-schedules/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error.status === 404 || error.status === 403) {
      mount(main, h('h1', {}, 'Schedule not found'), h('p', {}, h('a', { href: '#/schedules' }, 'Back to schedules')));
      return;
    }
    throw error;
  }
  if (!current(serial)) return;
  const s = envelope.data;
  const actions = h('div', { class: 'actions' }, h('a', { href: '#/schedules' }, '← All schedules'),
    h('a', { href: `#/jobs?schedule_id=${encodeURIComponent(s.schedule_id)}`, id: 'schedule-jobs' }, 'Its jobs'));
  if (session.canWrite) {
    const toggle = h('button', { type: 'button', class: s.paused ? '' : 'secondary', id: s.paused ? 'resume-schedule' : 'pause-schedule' },
      s.paused ? 'Resume' : 'Pause');
    toggle.addEventListener('click', async () => {
      toggle.disabled = true;
      try {
        await api('PATCH', `/services/agent-schedules/${encodeURIComponent(s.schedule_id)}`, { paused: !s.paused });
        notice(s.paused ? 'Schedule resumed' : 'Schedule paused');
        await schedulePage(main, id, serial);
      } catch (failure) {
        toggle.disabled = false;
        notice(failure.message);
      }
    });
    actions.append(toggle);
  }
  mount(main, 
    h('h1', {}, s.name || s.schedule_id),
    h('p', {}, h('span', { id: 'schedule-state', class: `badge ${s.paused ? 'CANCELED' : 'COMPLETED'}` }, s.paused ? 'PAUSED' : 'ACTIVE')),
    actions,
    h('div', { class: 'panel' }, fields([
      ['Schedule id', s.schedule_id],
      ['Cron', h('code', {}, s.cron)],
      ['Time zone', s.timezone],
      ['Jitter', `${s.delay} min`],
      ['Overlap', s.overlap],
      ['Next run', timeCell(s.next_run_at)],
      ['Last run', timeCell(s.last_run_at)],
      ['Last job', s.last_job_id ? h('a', { href: `#/jobs/${encodeURIComponent(s.last_job_id)}` }, s.last_job_id) : '—'],
      ['Jobs created', s.runs],
      ['Occurrences skipped', s.skipped],
      ['Created', timeCell(s.created_at)],
      ['Updated', timeCell(s.updated_at)],
    ])),
    h('h2', {}, 'The job each occurrence creates'), json(s.job));
}

// ---------- start ----------

window.addEventListener('hashchange', () => { render(); document.getElementById('main').focus(); });
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('sign-out').addEventListener('click', () => {
    session.clear();
    location.hash = '';
    showSignIn('Signed out.');
  });
  render();
});
