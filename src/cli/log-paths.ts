/**
 * Where an app's log lives: `<log dir>/<name>.log` and its rotated files `<name>.log.1` …, and,
 * for a detached primary, `<name>.primary.out`: its own stdout and stderr (detach.ts).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 5;

/** `$CORRAL_LOG_DIR`, else `$XDG_STATE_HOME/corral`, else `~/.local/state/corral`. */
export function logDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env['CORRAL_LOG_DIR']) return path.resolve(env['CORRAL_LOG_DIR']);
  if (env['XDG_STATE_HOME']) return path.join(env['XDG_STATE_HOME'], 'corral');
  return path.join(os.homedir(), '.local', 'state', 'corral');
}

export function logFilePath(name: string, dir: string = logDirectory()): string {
  return path.join(dir, `${name}.log`);
}

/** The files of an app's log, oldest first (rotated ones, then the current one), those that exist. */
export function logFiles(file: string, maxFiles = 99): string[] {
  const files: string[] = [];
  for (let index = maxFiles; index >= 1; index -= 1) if (existsSync(`${file}.${index}`)) files.push(`${file}.${index}`);
  if (existsSync(file)) files.push(file);
  return files;
}

/**
 * A detached primary's own stdout and stderr (detach.ts): what Node writes outside corral's code
 * (a crash of the primary, a --primary module's console output). Not `.log`, so that no app's log
 * and no `corral logs` takes it for one.
 */
export function primaryOutputPath(logFile: string): string {
  return `${logFile.replace(/\.log$/, '')}.primary.out`;
}
