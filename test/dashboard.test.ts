// The dashboard the admin server serves at /, in a real browser (headless Chromium): every
// worker's pid shown, and a SIGKILLed worker replaced on the page by its successor, with the
// restart in the event list, without the page being reloaded. The screenshot is kept in
// test-output/dashboard.png.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, test } from 'node:test';
import { openPage, type BrowserPage } from './helpers/chromium.js';
import { freePort } from './helpers/net-client.js';
import { killPrograms, runCommand, startProgram } from './helpers/program.js';
import { requireTool } from './helpers/tools.js';

const BIN = fileURLToPath(new URL('../../bin/corral.cjs', import.meta.url));
const APP = fileURLToPath(new URL('../../test/fixtures/observability/counter-app.cjs', import.meta.url));
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-dashboard-'));
const env = { CORRAL_RUN_DIR: path.join(dir, 'run'), CORRAL_LOG_DIR: path.join(dir, 'logs'), NODE_OPTIONS: '' };
let page: BrowserPage | undefined;
// The tool is checked once, before any test: without it, each would fail the same way.
before(() => requireTool('chromium', 'chromium', 'the dashboard test (a real browser)'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  page?.close();
  page = undefined;
  await killPrograms();
});

/** In the page: resolves once `condition` (a function body over `rows`, the worker rows) holds, as the DOM changes. */
function waitInPage(condition: string, what: string, timeout = 20_000): string {
  return `new Promise((resolve, reject) => {
    const rows = () => [...document.querySelectorAll('#workers tr')].map((row) => ({
      slot: row.dataset.slot, pid: row.dataset.pid, other: row.classList.contains('other'), text: row.textContent,
    }));
    const events = () => [...document.querySelectorAll('#events li')].map((item) => item.textContent);
    const check = () => {
      const found = ((rows, events) => { ${condition} })(rows, events);
      if (found) { observer.disconnect(); clearTimeout(timer); resolve(found); }
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    const timer = setTimeout(() => { observer.disconnect(); reject(new Error(${JSON.stringify(`timed out waiting for ${what}`)} + ': ' + JSON.stringify(rows()))); }, ${timeout});
    check();
  })`;
}

test('the dashboard shows every worker and replaces a SIGKILLed one by its successor without a reload', { timeout: 120_000 }, async (t) => {
  const port = await freePort();
  const app = startProgram(BIN, ['start', APP, '--name', 'dashboard', '-i', '2', '--admin', '0'], { cwd: dir, env: { ...env, PORT: String(port) } });
  const [ready] = await app.waitForErr(/ready: 2 workers/);
  const admin = / admin (http:\/\/\S+) /.exec(ready!)![1]!;
  const status = JSON.parse((await runCommand(BIN, ['status', 'dashboard', '--json'], { cwd: dir, env })).stdout) as { slots: { slot: number; worker: { pid: number } }[] };
  const pids = status.slots.map((slot) => String(slot.worker.pid));
  page = await openPage(`${admin}/`);
  const shown = await page.evaluate<{ pid: string }[]>(waitInPage(
    `const live = rows().filter((row) => !row.other); return ${JSON.stringify(pids)}.every((pid) => live.some((row) => row.pid === pid)) && live;`,
    'both workers\' pids'));
  assert.deepEqual(shown.map((row) => row.pid).sort(), [...pids].sort());
  assert.equal(await page.evaluate<string>("document.getElementById('name').textContent"), 'dashboard');
  // A mark that a reload of the page would erase.
  await page.evaluate('window.sameDocument = true');
  for (let index = 0; index < 30; index += 1) await (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })).text();
  const killed = pids[0]!;
  const slot = String(status.slots[0]!.slot);
  process.kill(Number(killed), 'SIGKILL');
  const successor = await page.evaluate<{ pid: string; text: string }>(waitInPage(
    `const row = rows().find((entry) => entry.slot === ${JSON.stringify(slot)} && !entry.other);
     return row && row.pid && row.pid !== ${JSON.stringify(killed)} && /ready/.test(row.text) &&
       !rows().some((entry) => entry.pid === ${JSON.stringify(killed)}) &&
       events().some((text) => text.includes('pid ${killed}') && text.includes('killed')) && row;`,
    'the successor of the killed worker, and the restart in the events'));
  assert.notEqual(successor.pid, killed);
  assert.equal(await page.evaluate<boolean>('window.sameDocument === true'), true, 'the page was not reloaded');
  const after = JSON.parse((await runCommand(BIN, ['status', 'dashboard', '--json'], { cwd: dir, env })).stdout) as { slots: { slot: number; worker: { pid: number } }[] };
  assert.equal(String(after.slots.find((entry) => String(entry.slot) === slot)!.worker.pid), successor.pid, 'the page shows the successor the primary has');
  // Let a few snapshots draw the charts, then keep a screenshot.
  await page.evaluate(waitInPage(`return document.querySelectorAll('#cpu-chart path').length >= 2 && document.querySelectorAll('#events li').length >= 1;`, 'the charts'));
  mkdirSync(OUTPUT, { recursive: true });
  const screenshot = path.join(OUTPUT, 'dashboard.png');
  await page.screenshot(screenshot);
  assert.ok(statSync(screenshot).size > 10_000, 'a screenshot of the page');
  t.diagnostic(`screenshot: ${screenshot}`);
});
