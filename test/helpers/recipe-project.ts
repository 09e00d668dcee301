// Runs a recipe of docs/frameworks.md as written: its files go into a project directory, and its
// sh lines up to and including the first `corral start` run in bash there, with `corral` on the
// PATH (this checkout's bin). The lines after it (`corral logs -f`…) are what a user does next; a
// test does its own. The ports the recipes are written with (3000 for the app, 4318 for a
// collector) are replaced by the ones the test chose, in the files and the commands alike. Each
// project has its own run and log directories (0700), so nothing meets another test's apps.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MarkedBlocks } from './doc-blocks.js';
import { startProgram, type Program } from './program.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'corral.cjs');
/** The marker of a recipe: `<!-- recipe: <name> -->`. */
export const RECIPE_MARKER = /^<!-- recipe: ([\w-]+) -->$/;
export const FRAMEWORKS_DOC = path.join(ROOT, 'docs', 'frameworks.md');

export interface RecipeRun {
  readonly program: Program;
  /** The environment `corral reload`, `corral stop`… need to reach the recipe's app. */
  readonly env: Record<string, string>;
  readonly logDir: string;
}

/** `3000` → the app's port, `4318` → the collector's, as whole numbers only. */
export function withPorts(text: string, ports: Readonly<Record<number, number>>): string {
  return text.replace(/\b\d{4,5}\b/g, (number) => String(ports[Number(number)] ?? number));
}

/** The sh lines up to and including the first `corral start`: what the test runs. */
export function commandsToStart(recipe: MarkedBlocks): string[] {
  const start = recipe.commands.findIndex((line) => /^(\w+=\S+ )*corral start\b/.test(line));
  if (start < 0) throw new Error(`recipe ${recipe.marker[1]}: no \`corral start\` line in its sh blocks`);
  return recipe.commands.slice(0, start + 1);
}

/**
 * Writes the recipe's files into `project` (which the caller made, with its node_modules) and
 * starts its commands; the program is bash, in a process group of its own, so that the test's
 * killPrograms() ends corral and its workers with it.
 */
export function runRecipe(recipe: MarkedBlocks, project: string, ports: Readonly<Record<number, number>>, env: Record<string, string> = {}): RecipeRun {
  for (const [file, text] of recipe.files) {
    mkdirSync(path.dirname(path.join(project, file)), { recursive: true });
    writeFileSync(path.join(project, file), withPorts(text, ports));
  }
  const bin = path.join(project, '.recipe-bin');
  const run = path.join(project, '.recipe-run');
  mkdirSync(bin, { recursive: true });
  mkdirSync(run, { recursive: true, mode: 0o700 });
  chmodSync(run, 0o700);
  writeFileSync(path.join(bin, 'corral'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"\n`, { mode: 0o755 });
  const script = path.join(project, '.recipe.sh');
  writeFileSync(script, `set -e\n${commandsToStart(recipe).map((line) => withPorts(line, ports)).join('\n')}\n`);
  const recipeEnv = { CORRAL_RUN_DIR: run, CORRAL_LOG_DIR: run, NODE_OPTIONS: '', ...env };
  const program = startProgram(script, [], {
    cwd: project, execPath: '/bin/bash', detached: true,
    env: { ...recipeEnv, PATH: `${bin}${path.delimiter}${process.env['PATH'] ?? ''}` },
  });
  return { program, env: recipeEnv, logDir: run };
}
