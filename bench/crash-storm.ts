// A crash storm, as an OOM killer or a chaos test makes one: every `interval` ms one of the
// primary's worker processes, picked at random, is SIGKILLed, while autocannon keeps
// `connections` connections busy. Shared by test/reliability.test.ts and `npm run bench`
// (bench/storm.ts), which put corral beside a bare node:cluster primary that reforks on exit.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';

export interface StormOptions {
  port: number;
  /** Whose children are killed. */
  primaryPid: number;
  /** ms between kills. */
  interval: number;
  /** ms the storm lasts. */
  duration: number;
  connections: number;
  keepAlive: boolean;
}

export interface StormResult {
  ok: number;
  failed: number;
  kills: number;
}

/** The name corral's orphan guard runs under (src/managed/process-groups.ts). */
const GUARD_NAME = 'corral-orphan-guard';

/** The children of `pid` (from /proc; Linux), with what each runs as (argv[0]). */
function childProcesses(pid: number): { pid: number; argv0: string }[] {
  const children: { pid: number; argv0: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push({ pid: Number(entry), argv0: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0]! });
    } catch {
      continue; // Gone meanwhile.
    }
  }
  return children;
}

/** The worker processes of the primary `pid`: its children, but corral's orphan guard, which serves nothing. */
export function workersOf(pid: number): number[] {
  return childProcesses(pid).filter((child) => child.argv0 !== GUARD_NAME).map((child) => child.pid);
}

/** The pid of corral's orphan guard under the primary `pid`, if it runs one. */
export function guardOf(pid: number): number | undefined {
  return childProcesses(pid).find((child) => child.argv0 === GUARD_NAME)?.pid;
}

/**
 * Writes, into `dir`, the storm's app (an HTTP hello world on $PORT) and the anchor it is measured
 * beside: a bare node:cluster primary that forks 4 workers of it, reforks on every exit, and
 * prints `ready` once all 4 listen. Returns both paths.
 */
export function writeStormPrograms(dir: string): { app: string; nodeCluster: string } {
  const app = path.join(dir, 'storm-app.cjs');
  writeFileSync(app, "require('node:http').createServer((req, res) => res.end('hello world\\n')).listen(Number(process.env.PORT));\n");
  const nodeCluster = path.join(dir, 'storm-node-cluster.cjs');
  writeFileSync(nodeCluster, `const cluster = require('node:cluster');
if (cluster.isPrimary) {
  for (let i = 0; i < 4; i += 1) cluster.fork();
  cluster.on('exit', () => cluster.fork());
  let listening = 0;
  cluster.on('listening', () => { if (++listening === 4) console.log('ready'); });
} else require(${JSON.stringify(app)});
`);
  return { app, nodeCluster };
}

export async function crashStorm(options: StormOptions): Promise<StormResult> {
  const load = autocannon({
    url: `http://127.0.0.1:${options.port}/`,
    connections: options.connections,
    duration: options.duration / 1000,
    timeout: 10,
    headers: options.keepAlive ? {} : { connection: 'close' },
  });
  let kills = 0;
  const killer = setInterval(() => {
    const children = workersOf(options.primaryPid);
    const victim = children[Math.floor(Math.random() * children.length)];
    if (victim === undefined) return;
    try {
      process.kill(victim, 'SIGKILL');
      kills += 1;
    } catch {
      // It exited on its own meanwhile.
    }
  }, options.interval);
  try {
    const result = await load;
    return { ok: result['2xx'], failed: result.non2xx + result.errors + result.timeouts, kills };
  } finally {
    clearInterval(killer);
  }
}
