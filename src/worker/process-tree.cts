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
import type { ChildProcess } from 'node:child_process';
import diagnosticsChannel = require('node:diagnostics_channel');
import fs = require('node:fs');

/**
 * The table of parents, read once per turn of the event loop: a stop that SIGKILLs hundreds of
 * workers in one turn (a forced stop, drain deadlines that fall together) reads /proc once, not
 * once per worker (with 1,000 workers that was a million small reads, minutes on one CPU).
 */
let snapshot: Map<number, number> | undefined;
/** How many times the whole table was read (for the tests). */
let tableReads = 0;

function parents(): Map<number, number> {
  if (snapshot === undefined) {
    tableReads += 1;
    snapshot = readParents();
    setImmediate(() => { snapshot = undefined; });
  }
  return snapshot;
}

/**
 * The processes this one started through node:child_process, still running (its
 * 'child_process' diagnostics channel: spawn, exec, execFile, fork). A worker's runtime follows
 * them, so that a worker that started none, or whose children have all ended, need not read
 * /proc at its exit to find leftovers: any process below it would be below one of them (one
 * whose parent ended is the init's, or a subreaper's, not the worker's). Undefined until
 * followSpawns() is called (the primary does not).
 */
let spawned: Set<ChildProcess> | undefined;
/**
 * A worker thread was started: its spawns are published on its own thread's channels, which this
 * one does not see, so from then on /proc is always read.
 */
let threadStarted = false;

function followSpawns(): void {
  if (spawned !== undefined) return;
  const children = new Set<ChildProcess>();
  spawned = children;
  diagnosticsChannel.subscribe('child_process', (message) => {
    pruneEnded(children);
    children.add((message as { process: ChildProcess }).process);
  });
  diagnosticsChannel.subscribe('worker_threads', () => {
    threadStarted = true;
  });
}

function pruneEnded(children: Set<ChildProcess>): void {
  for (const child of children) {
    // No pid once the spawn is done: it failed.
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) children.delete(child);
  }
}

/**
 * Whether this process may have descendants: false only when it followed its spawns, none runs,
 * and it started no worker thread. (A process forked by native code, which node:child_process
 * does not see, is then missed where the kernel does not list children; see descendantsOf.)
 */
function mayHaveDescendants(): boolean {
  if (spawned === undefined || threadStarted || listsChildren()) return true;
  pruneEnded(spawned);
  return spawned.size > 0;
}

/**
 * Whether the kernel lists each thread's children (/proc/<pid>/task/<tid>/children, Linux 3.5+
 * with CONFIG_PROC_CHILDREN, as Debian's, Ubuntu's and RHEL's kernels have it). With it, a tree
 * is read in a few small reads per process in it, whatever else runs on the machine.
 */
let kernelListsChildren: boolean | undefined;

function listsChildren(): boolean {
  kernelListsChildren ??= fs.existsSync(`/proc/${process.pid}/task/${process.pid}/children`);
  return kernelListsChildren;
}

/** The children of `pid` (those of every thread of it), from the kernel's lists. */
function listedChildren(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // It ended meanwhile.
  }
  const children: number[] = [];
  for (const task of tasks) {
    try {
      for (const child of fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'latin1').split(' ')) {
        if (child !== '') children.push(Number(child));
      }
    } catch {
      // The thread ended meanwhile.
    }
  }
  return children;
}

/** Each process's parent, read now. Empty where /proc is not there. */
function readParents(): Map<number, number> {
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
  if (listsChildren()) {
    const found: number[] = [];
    for (let queue = [pid]; queue.length > 0;) {
      const next = queue.flatMap(listedChildren);
      found.push(...next);
      queue = next;
    }
    return found;
  }
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

export = {
  descendantsOf, killAll, followSpawns, mayHaveDescendants, listsChildren,
  /** How many times the whole process table has been read so far. */
  tableReads: (): number => tableReads,
};
