/**
 * The live dashboard the admin server serves at `/`: one self-contained page (its style and
 * script inline, nothing fetched from elsewhere, nothing built at run time). It reads
 * `/api/events` (server-sent events, dashboard-feed.ts): the last minutes at once, then a snapshot
 * every second and each lifecycle event, and redraws itself; the browser reconnects on its own
 * after a restart of the primary.
 */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>corral</title>
<style>
  :root { color-scheme: light dark; --fg: #1d232a; --muted: #6a737d; --bg: #ffffff; --panel: #f5f7f9; --line: #d9dee3;
    --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --accent: #0969da; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #8b949e; --bg: #0d1117; --panel: #161b22; --line: #30363d;
    --ok: #3fb950; --warn: #d29922; --bad: #f85149; --accent: #58a6ff; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: baseline; padding: 14px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 18px; margin: 0; }
  header .fact { color: var(--muted); }
  header .fact b { color: var(--fg); font-weight: 600; }
  #link { margin-left: auto; font-size: 12px; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 16px; }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
  .card h2 { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 6px; }
  .card .now { font-size: 20px; font-weight: 600; }
  svg.chart { width: 100%; height: 90px; display: block; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: 5px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { font-size: 12px; color: var(--muted); font-weight: 600; }
  th:first-child, td:first-child, td.state, th.state { text-align: left; }
  td.state span { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; border: 1px solid currentColor; }
  .ready { color: var(--ok); } .starting, .draining, .backoff { color: var(--warn); } .crashloop, .gone { color: var(--bad); }
  tr.other td { color: var(--muted); }
  .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
  #events { list-style: none; margin: 0; padding: 0; max-height: 260px; overflow: auto; font-size: 13px; }
  #events li { padding: 3px 0; border-bottom: 1px solid var(--line); }
  #events time { color: var(--muted); margin-right: 10px; font-variant-numeric: tabular-nums; }
  #events .restart, #events .crashloop, #events .health, #events .reload-failed, #events .start-failed { color: var(--bad); }
  #events .reload, #events .reloading, #events .scale { color: var(--accent); }
  .legend { color: var(--muted); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1 id="name">corral</h1>
  <span class="fact">state <b id="state">…</b></span>
  <span class="fact">workers <b id="ready">…</b></span>
  <span class="fact">generation <b id="generation">…</b></span>
  <span class="fact">balancer <b id="balancer">…</b></span>
  <span class="fact">primary <b id="primary">…</b></span>
  <span class="fact" id="link">connecting…</span>
</header>
<main>
  <section class="cards">
    <div class="card"><h2>CPU per worker (cores)</h2><div class="now" id="cpu-now">–</div><svg class="chart" id="cpu-chart" viewBox="0 0 300 90" preserveAspectRatio="none"></svg></div>
    <div class="card"><h2>Memory per worker (RSS)</h2><div class="now" id="rss-now">–</div><svg class="chart" id="rss-chart" viewBox="0 0 300 90" preserveAspectRatio="none"></svg></div>
    <div class="card"><h2>Requests per second</h2><div class="now" id="rps-now">–</div><svg class="chart" id="rps-chart" viewBox="0 0 300 90" preserveAspectRatio="none"></svg></div>
    <div class="card"><h2>Open connections</h2><div class="now" id="conn-now">–</div><svg class="chart" id="conn-chart" viewBox="0 0 300 90" preserveAspectRatio="none"></svg></div>
  </section>
  <section class="card">
    <h2>Slots and workers</h2>
    <table>
      <thead><tr><th>slot</th><th class="state">state</th><th>worker</th><th>pid</th><th>gen</th><th>uptime</th><th>CPU</th><th>RSS</th><th>heap</th><th>loop delay</th><th>conns</th><th>req/s</th><th>requests</th><th>restarts</th></tr></thead>
      <tbody id="workers"></tbody>
    </table>
    <div class="legend" id="legend"></div>
  </section>
  <section class="card">
    <h2>Events</h2>
    <ul id="events"></ul>
  </section>
</main>
<script>
"use strict";
const COLORS = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#1b7c83', '#bc4c00'];
const color = (slot) => COLORS[slot % COLORS.length];
const $ = (id) => document.getElementById(id);
let history = [];
const WINDOW = 300;

function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}
function duration(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}
const fixed = (n, digits) => (n === null || n === undefined ? '–' : n.toFixed(digits));
const cell = (text, cls) => { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; };

/** Snapshots a rate spans: reports and snapshots both come each second, so one step alone jitters. */
const RATE_STEPS = 3;

/** Requests per second of the slot's worker between two snapshots, if the same worker served in both. */
function slotRate(now, before, slot) {
  const a = now.slots.find((s) => s.slot === slot);
  const b = before.slots.find((s) => s.slot === slot);
  if (!a || !b || !a.worker || !b.worker || a.worker.pid !== b.worker.pid) return null;
  if (a.worker.requests === null || b.worker.requests === null) return null;
  const seconds = (now.at - before.at) / 1000;
  return seconds > 0 ? Math.max(0, a.worker.requests - b.worker.requests) / seconds : null;
}

/** Requests per second of the worker in a slot over the latest snapshots. */
function rate(slot) {
  if (history.length < 2) return null;
  const now = history[history.length - 1];
  return slotRate(now, history[Math.max(0, history.length - 1 - RATE_STEPS)], slot);
}

function row(view, worker, slotInfo) {
  const tr = document.createElement('tr');
  if (!slotInfo) tr.className = 'other';
  tr.dataset.slot = String(worker ? worker.slot : slotInfo.slot);
  if (worker && worker.pid !== null) tr.dataset.pid = String(worker.pid);
  const slot = worker ? worker.slot : slotInfo.slot;
  const first = document.createElement('td');
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.style.background = color(slot);
  first.append(swatch, String(slot));
  tr.append(first);
  const state = slotInfo && (!worker || slotInfo.state === 'crashloop' || slotInfo.state === 'backoff') ? slotInfo.state : worker.state;
  const stateCell = document.createElement('td');
  stateCell.className = 'state';
  const badge = document.createElement('span');
  badge.className = state;
  badge.textContent = slotInfo ? state : state + ' (leaving)';
  stateCell.append(badge);
  tr.append(stateCell);
  if (!worker) {
    const exit = slotInfo.lastExit ? 'last exit: ' + slotInfo.lastExit.reason : '';
    const td = cell(exit);
    td.colSpan = 11;
    td.style.textAlign = 'left';
    tr.append(td, cell(String(slotInfo.restarts)));
    return tr;
  }
  const perSecond = slotInfo ? rate(slot) : null;
  tr.append(cell(String(worker.id)), cell(worker.pid === null ? '–' : String(worker.pid), 'pid'), cell(String(worker.generation)),
    cell(duration(worker.uptime)), cell(worker.cpu === null ? '–' : (worker.cpu * 100).toFixed(0) + '%'), cell(bytes(worker.rss)),
    cell(bytes(worker.heapUsed)), cell(worker.loopDelay === null ? '–' : fixed(worker.loopDelay, 1) + ' ms'),
    cell(worker.connections === null ? '–' : String(worker.connections)), cell(perSecond === null ? '–' : perSecond.toFixed(1)),
    cell(worker.requests === null ? '–' : String(worker.requests)), cell(slotInfo ? String(slotInfo.restarts) : ''));
  return tr;
}

function drawTable(view) {
  const body = $('workers');
  const rows = [];
  for (const slot of view.slots) rows.push(row(view, slot.worker, slot));
  for (const other of view.others) rows.push(row(view, other, null));
  body.replaceChildren(...rows);
}

function chart(id, series, format, nowId, span) {
  const svg = $(id);
  let max = 0;
  for (const line of series) for (const point of line.points) if (point !== null && point > max) max = point;
  if (max === 0) max = 1;
  const parts = [];
  for (const line of series) {
    let d = '';
    line.points.forEach((value, index) => {
      if (value === null) return;
      const x = (index / Math.max(1, span - 1)) * 300;
      const y = 88 - (value / max) * 84;
      d += (d === '' || line.points[index - 1] === null ? 'M' : 'L') + x.toFixed(1) + ' ' + y.toFixed(1);
    });
    if (d !== '') parts.push('<path d="' + d + '" style="fill:none;stroke:' + line.color + ';stroke-width:1.5" vector-effect="non-scaling-stroke"/>');
  }
  svg.innerHTML = parts.join('');
  const total = series.reduce((sum, line) => sum + (line.points[line.points.length - 1] ?? 0), 0);
  $(nowId).textContent = format(total) + (series.length > 1 ? ' in all' : '') + ' · max ' + format(max);
}

/** The charts span the last five minutes, or the last minute while the history is shorter. */
function drawCharts() {
  const recent = history.slice(-WINDOW);
  const span = Math.max(60, recent.length);
  const padded = (values) => Array(span - values.length).fill(null).concat(values);
  const slots = new Set();
  for (const view of recent) for (const slot of view.slots) slots.add(slot.slot);
  const perSlot = (read) => [...slots].sort((a, b) => a - b).map((slot) => ({
    color: color(slot),
    points: padded(recent.map((view, index) => {
      const entry = view.slots.find((s) => s.slot === slot);
      return entry && entry.worker ? read(entry.worker, index, slot) : null;
    })),
  }));
  chart('cpu-chart', perSlot((w) => w.cpu), (n) => n.toFixed(2), 'cpu-now', span);
  chart('rss-chart', perSlot((w) => w.rss), bytes, 'rss-now', span);
  const requestRate = recent.map((view, index) => {
    if (index === 0) return null;
    const before = recent[Math.max(0, index - RATE_STEPS)];
    return view.slots.reduce((sum, slot) => sum + (slotRate(view, before, slot.slot) ?? 0), 0);
  });
  chart('rps-chart', [{ color: 'var(--accent)', points: padded(requestRate) }], (n) => n.toFixed(1), 'rps-now', span);
  chart('conn-chart', [{ color: 'var(--accent)', points: padded(recent.map((view) =>
    view.slots.reduce((sum, slot) => sum + (slot.worker && slot.worker.connections !== null ? slot.worker.connections : 0), 0))) }],
  (n) => String(Math.round(n)), 'conn-now', span);
}

function drawHeader(view) {
  document.title = view.name + ' · corral';
  $('name').textContent = view.name;
  $('state').textContent = view.state + (view.reloading !== null ? ' (reloading to ' + view.reloading + ')' : '');
  $('ready').textContent = view.ready + ' / ' + view.workers + ' ready';
  $('generation').textContent = String(view.generation);
  $('balancer').textContent = view.balancer + (view.queued > 0 ? ' (' + view.queued + ' queued)' : '');
  $('primary').textContent = 'pid ' + view.pid + ', ' + bytes(view.primary.rss) + ', ' + (view.primary.cpu * 100).toFixed(1) + '% CPU';
}

function addEvent(event) {
  const li = document.createElement('li');
  li.className = event.kind;
  const time = document.createElement('time');
  time.textContent = new Date(event.at).toLocaleTimeString();
  li.append(time, event.text);
  const list = $('events');
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

function draw(view) {
  drawHeader(view);
  drawTable(view);
  drawCharts();
  document.body.dataset.updated = String(view.at);
}

const source = new EventSource('api/events');
source.addEventListener('open', () => { $('link').textContent = 'live'; $('link').className = 'fact ready'; });
source.addEventListener('error', () => { $('link').textContent = 'reconnecting…'; $('link').className = 'fact gone'; });
source.addEventListener('backlog', (message) => {
  const backlog = JSON.parse(message.data);
  // The snapshots of the last minutes make the charts; the cluster now (taken between two
  // snapshots) only fills the table, so that no rate is computed over a fraction of a second.
  history = backlog.history.slice();
  $('events').replaceChildren();
  for (const event of backlog.events) addEvent(event);
  draw(backlog.now);
});
source.addEventListener('snapshot', (message) => {
  const view = JSON.parse(message.data);
  history.push(view);
  if (history.length > WINDOW + 1) history.shift();
  draw(view);
});
source.addEventListener('lifecycle', (message) => addEvent(JSON.parse(message.data)));
</script>
</body>
</html>
`;
