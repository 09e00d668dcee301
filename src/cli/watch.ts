/**
 * `corral start --watch`: for development, a zero-downtime reload when the app's files change.
 * Changes are gathered for a moment (an editor's save, a `git checkout` or a build writes many
 * files at once) and make one reload, which says what changed; changes during a reload make one
 * more after it (the cluster's reload queue). `node_modules`, `.git` and the log directory are
 * not watched. Node's own `--watch` restarts the process, which in a worker means a second app
 * process fighting for its port; this reloads the cluster instead.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

/** How long changes are gathered before the reload. */
export const WATCH_DEBOUNCE = 300;

const IGNORED = /(^|[/\\])(node_modules|\.git)([/\\]|$)/;

export interface Watcher {
  close(): void;
}

/**
 * Watches `paths` (directories, recursively, or files) and calls `onChange` with the changed
 * files (relative to `base`) once no change has come for WATCH_DEBOUNCE ms. `ignore` lists more
 * directories to leave out.
 */
export function watchFiles(paths: readonly string[], base: string, ignore: readonly string[], onChange: (files: string[]) => void): Watcher {
  const changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  const ignored = ignore.map((dir) => path.resolve(dir));
  for (const root of paths) {
    const watcher = watch(root, { recursive: true }, (_event, name) => {
      const file = name === null ? root : path.resolve(root, name.toString());
      if (IGNORED.test(path.relative(base, file)) || ignored.some((dir) => file === dir || file.startsWith(dir + path.sep))) return;
      changed.add(path.relative(base, file) || path.basename(file));
      clearTimeout(timer);
      timer = setTimeout(() => {
        const files = [...changed].sort();
        changed.clear();
        onChange(files);
      }, WATCH_DEBOUNCE);
    });
    watcher.on('error', () => {}); // A watched directory removed: nothing more to watch there.
    watchers.push(watcher);
  }
  return {
    close() {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
