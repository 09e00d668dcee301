/**
 * The processes a worker started, and theirs: what corral ends with the worker (`sleep` an app
 * spawned, a database's helper, the app process of `node --watch`), so that none outlives it
 * holding its port, its files or its memory. Read from /proc (Linux): elsewhere none are found.
 *
 * Workers stay in the primary's process group and session, as under node:cluster. A group of
 * their own would have needed setsid(), Node's only way to it, and a session of its own is also an
 * autogroup of its own for Linux's scheduler: a cluster of N workers would weigh N + 1 sessions
 * against every other program on the machine instead of one (measured: under a crash storm, the
 * primary and the load generator starved and 1.4× as many requests failed).
 *
 * Used by the worker runtime (at the end of its drain, and when its primary is gone) and by the
 * primary (before it SIGKILLs a worker).
 */
import fs = require('node:fs');

/** Each process's parent, read now. Empty where /proc is not there. */
function parents(): Map<number, number> {
  const parentOf = new Map<number, number>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return parentOf;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // It ended meanwhile.
    }
  }
  return parentOf;
}

/** Every process below `pid` now, parents before their children. */
function descendantsOf(pid: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const [child, parent] of parents()) {
    const siblings = childrenOf.get(parent);
    if (siblings === undefined) childrenOf.set(parent, [child]);
    else siblings.push(child);
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    const next: number[] = [];
    for (const parent of queue) next.push(...(childrenOf.get(parent) ?? []));
    found.push(...next);
    queue = next;
  }
  return found;
}

/**
 * SIGKILLs each of `pids` (parents first, so that none forks again meanwhile); returns those it
 * reached. They had their chance to end gracefully: the worker's drain and its onShutdown hooks.
 */
function killAll(pids: readonly number[]): number[] {
  return pids.filter((pid) => {
    try {
      process.kill(pid, 'SIGKILL');
      return true;
    } catch {
      return false; // Gone already.
    }
  });
}

export = { descendantsOf, killAll };
