// For tests whose apps write down what they did (a handler that ran, a hook that finished): each
// program gets its own run and log directory, and a marks file its app appends lines to.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Makes `isolated()` for a test file's temporary directory. */
export function isolation(dir: string): () => { env: Record<string, string>; marks: string } {
  let count = 0;
  return () => {
    count += 1;
    const run = path.join(dir, `run-${count}`);
    mkdirSync(run, { mode: 0o700 });
    const marks = path.join(dir, `marks-${count}`);
    return { env: { CORRAL_RUN_DIR: run, CORRAL_LOG_DIR: run, NODE_OPTIONS: '', MARKS: marks }, marks };
  };
}

/** The lines of a marks file (none if the app wrote none yet). */
export const marksIn = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
