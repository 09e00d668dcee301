// The README's examples, run as written. Each example marked `<!-- example: <name>; "type": <type>;
// run <file> | corral start <file> -->` is written into a fresh project (its code blocks named by
// their first comment line, a package.json with that "type", corral and tsx installed as links)
// and run the way the README's "Running TypeScript" table says for this Node line: as it is where
// Node strips types, with `--import tsx` on Node 20. The examples listen on port 8000 as written;
// fixtures/seed/port-map.cjs maps it to a free port (so the test binds no fixed port) and says on
// stderr when a server listens, which is what the test waits for.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { markedBlocks } from './helpers/doc-blocks.js';
import { freePort } from './helpers/net-client.js';
import { exitOf, killPrograms, startProgram } from './helpers/program.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'corral.cjs');
const PORT_MAP = path.join(ROOT, 'test', 'fixtures', 'seed', 'port-map.cjs');
const CPUS = os.availableParallelism();
const STRIPS_TYPES = Boolean((process.features as { typescript?: string | false }).typescript);
const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-readme-'));
after(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killPrograms);

interface Example {
  readonly name: string;
  readonly type: 'module' | 'commonjs';
  readonly how: 'run' | 'corral start';
  readonly entry: string;
  readonly files: Map<string, string>;
}

/** The marked examples of the README, with the code blocks that follow each marker (up to the next marker or heading). */
function readmeExamples(): Example[] {
  const marker = /^<!-- example: ([\w-]+); "type": "(module|commonjs)"; (run|corral start) (\S+) -->$/;
  return markedBlocks(path.join(ROOT, 'README.md'), marker).map(({ marker: match, files }) => ({
    name: match[1]!, type: match[2] as Example['type'], how: match[3] as Example['how'], entry: match[4]!, files,
  }));
}

/** What each example answers over HTTP. */
const ANSWERS: Readonly<Record<string, RegExp>> = {
  'quick-commonjs': /^hello from worker \d+\n$/,
  'quick-typescript': /^hello from worker \d+\n$/,
  'quick-supervised': /^ok\n$/,
  'typescript-app': /^ok from slot \d+\n$/,
};

describe('the README examples, as written', () => {
  const examples = readmeExamples();

  test('the README marks the Quick start examples and the TypeScript app', () => {
    assert.deepEqual(examples.map((example) => example.name), Object.keys(ANSWERS));
    for (const example of examples) assert.ok(example.files.has(example.entry), `${example.name}: no code block for ${example.entry}`);
  });

  for (const example of examples) {
    test(`${example.name}: ${example.how} ${example.entry} (${STRIPS_TYPES ? 'Node strips the types' : 'with --import tsx'})`, { timeout: 60_000 }, async () => {
      const project = path.join(dir, example.name);
      mkdirSync(path.join(project, 'node_modules'), { recursive: true });
      writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: example.name, private: true, type: example.type }));
      symlinkSync(ROOT, path.join(project, 'node_modules', 'corral'), 'dir');
      symlinkSync(path.join(ROOT, 'node_modules', 'tsx'), path.join(project, 'node_modules', 'tsx'), 'dir');
      for (const [file, text] of example.files) writeFileSync(path.join(project, file), text);
      const typescript = /\.[cm]?ts$/.test(example.entry);
      const port = await freePort();
      const env = { NODE_OPTIONS: `--require ${PORT_MAP}`, CORRAL_TEST_PORT_MAP: `8000:${port}`, CORRAL_RUN_DIR: path.join(project, 'run') };
      mkdirSync(env.CORRAL_RUN_DIR, { mode: 0o700 });
      const program = example.how === 'run'
        ? startProgram(path.join(project, example.entry), [], { cwd: project, env, execArgv: typescript && !STRIPS_TYPES ? ['--import', 'tsx'] : [] })
        : startProgram(BIN, ['start', example.entry, ...(typescript && !STRIPS_TYPES ? ['--node-args', '--import tsx'] : [])], { cwd: project, env });
      await program.waitForErr(/^port-map: listening on \d+$/, CPUS).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n${program.stderr()}`);
      });
      const answers = new Set<string>();
      for (let request = 0; request < 4 * CPUS; request += 1) {
        const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
        assert.equal(response.status, 200);
        const body = await response.text();
        assert.match(body, ANSWERS[example.name]!);
        answers.add(body);
      }
      // Where the answer names its worker, more than one answered.
      if (/\\d/.test(ANSWERS[example.name]!.source) && CPUS > 1) assert.ok(answers.size > 1, `one worker answered every request: ${[...answers].join(', ')}`);
      if (example.name === 'quick-supervised' || example.how === 'corral start') {
        // These two stop gracefully on SIGTERM (the supervised primary's handler, corral start's drain).
        program.child.kill('SIGTERM');
        assert.deepEqual(await exitOf(program), { code: 0, signal: null });
      }
    });
  }
});
