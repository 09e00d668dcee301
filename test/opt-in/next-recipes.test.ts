// docs/frameworks.md's Next.js recipes, run as written (helpers/recipe-project.ts). Not in the
// default suite (scripts/run-tests.js runs build/test/*.test.js only): Next.js, React and its
// compiler take 342 MB and its build some 20 s, so `npm run test:next` (scripts/test-next.js)
// installs them once into .cache/next-<version>/, which is the project these recipes run in
// (a project of its own: Next.js's standalone output is laid out from the project's root).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { markedBlocks, type MarkedBlocks } from '../helpers/doc-blocks.js';
import { freePort } from '../helpers/net-client.js';
import { exitOf, killPrograms, runCommand } from '../helpers/program.js';
import { BIN, FRAMEWORKS_DOC, RECIPE_MARKER, runRecipe } from '../helpers/recipe-project.js';

const project = process.env['CORRAL_NEXT_PROJECT'];
if (project === undefined) throw new Error('CORRAL_NEXT_PROJECT is not set: run these tests with `npm run test:next`, which installs Next.js for them.');
afterEach(() => killPrograms());

const recipes = new Map(markedBlocks(FRAMEWORKS_DOC, RECIPE_MARKER).map((recipe) => [recipe.marker[1]!, recipe]));
const start = recipes.get('nextjs-start');
const standalone = recipes.get('nextjs-standalone');
assert.ok(start !== undefined && standalone !== undefined, 'docs/frameworks.md marks the recipes nextjs-start and nextjs-standalone');

interface Case { readonly recipe: MarkedBlocks; readonly app: string }
const CASES: Readonly<Record<string, Case>> = {
  // The bin's base name is the app's name.
  'nextjs-start': { recipe: start, app: 'next' },
  // "with the app/ files above"
  'nextjs-standalone': { recipe: { ...standalone, files: new Map([...start.files, ...standalone.files]) }, app: 'server' },
};

describe("the Next.js recipes, as written (Next.js's build, then corral start)", () => {
  for (const [name, { recipe, app }] of Object.entries(CASES)) {
    test(`${name}: every worker serves; a reload and a stop run Next.js's SIGTERM handler (exit 143, no error closing the server), and the stop is clean`, { timeout: 300_000 }, async () => {
      // What the previous recipe built or wrote is not this one's.
      for (const leftover of ['app', '.next', 'next.config.js', '.recipe-run']) rmSync(path.join(project, leftover), { recursive: true, force: true });
      const port = await freePort();
      const run = runRecipe(recipe, project, { 3000: port }, { NEXT_TELEMETRY_DISABLED: '1' });
      const [line] = await run.program.waitForErr(/ready: \d+ workers? in/, 1, 240_000);
      const workers = Number(/ready: (\d+)/.exec(line!)![1]);
      const pidOf = async (): Promise<string> => {
        const page = await (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })).text();
        const pid = /hello from (?:<!-- -->)?(\d+)/.exec(page)?.[1];
        assert.ok(pid !== undefined, `not the page: ${page.slice(0, 200)}`);
        return pid;
      };
      const first = new Set<string>();
      for (let request = 0; request < 4 * workers; request += 1) first.add(await pidOf());
      assert.equal(first.size, workers, 'every worker answered');
      const corral = async (...args: string[]): Promise<string> => {
        const result = await runCommand(BIN, args, { env: run.env });
        assert.equal(result.status, 0, `corral ${args.join(' ')}: ${result.stdout}${result.stderr}`);
        return result.stdout;
      };
      await corral('reload', app);
      assert.ok(!first.has(await pidOf()), 'a new worker answers after the reload');
      const status = JSON.parse(await corral('status', app, '--json')) as { slots: { lastExit?: { reason: string; code: number | null } }[] };
      assert.deepEqual(status.slots.map((slot) => slot.lastExit && [slot.lastExit.reason, slot.lastExit.code]), status.slots.map(() => ['reload', 143]),
        "each old worker ended through Next.js's SIGTERM handler");
      assert.match(await corral('stop', app), /stopped cleanly/);
      assert.deepEqual(await exitOf(run.program, 30_000), { code: 0, signal: null }, run.program.stderr());
      // Next.js's handler closes the server corral closed first, and its callback gets no error.
      assert.doesNotMatch(run.program.stderr(), /ERR_SERVER_NOT_RUNNING|Server is not running/);
    });
  }
});
