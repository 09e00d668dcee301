/**
 * `corral start next`: a command of the app's dependencies, found as `npm run` and `npx` find it,
 * in node_modules/.bin of the directory or of the nearest parent that has it, and taken to the
 * JavaScript file it runs (which is what the workers run).
 */
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface FoundBin {
  /** The entry in node_modules/.bin. */
  readonly entry: string;
  /** The file it runs: the symlink's target (npm, yarn), or the target a pnpm shell shim names. */
  readonly target: string;
}

/** A bare name: no directory part, so it can only be a file here or a command. */
export function isBareName(script: string): boolean {
  return script !== '' && !script.includes('/') && !script.includes(path.sep) && script !== '.' && script !== '..';
}

/** node_modules/.bin/<name> of `from` or its nearest parent that has one, or undefined. */
export function findBin(name: string, from: string): FoundBin | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const entry = path.join(dir, 'node_modules', '.bin', name);
    const found = binTarget(entry);
    if (found !== undefined) return { entry, target: found };
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The file a .bin entry runs, or undefined when there is no such entry. */
function binTarget(entry: string): string | undefined {
  let isLink: boolean;
  try {
    const stat = lstatSync(entry);
    if (!stat.isSymbolicLink() && !stat.isFile()) return undefined;
    isLink = stat.isSymbolicLink();
  } catch {
    return undefined;
  }
  if (isLink) {
    try {
      return realpathSync(entry);
    } catch {
      return entry; // A dangling link: reported as missing by the caller's check of the file.
    }
  }
  return shimTarget(entry) ?? entry;
}

/**
 * The JavaScript file a package manager's shell shim runs (pnpm writes these instead of symlinks,
 * so that it can set NODE_PATH): its `# cmd-shim-target=` line, or the path its `exec node` line
 * gives relative to the shim's directory. Undefined for any other file.
 */
export function shimTarget(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
  if (!text.startsWith('#!/bin/sh')) return undefined;
  const relative = /^# cmd-shim-target=(.+)$/m.exec(text)?.[1] ??
    /\bexec node +"\$basedir(?:_abs)?(?:"\/'|\/)([^"'\n]+)["'] +"\$@"/.exec(text)?.[1];
  return relative === undefined ? undefined : path.resolve(path.dirname(file), relative.trim());
}
