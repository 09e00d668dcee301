// A crash storm, as an OOM killer or a chaos test makes one: every `interval` ms one of the
// primary's worker processes, picked at random, is SIGKILLed, while autocannon keeps
// `connections` connections busy. Shared by test/reliability.test.ts and `npm run bench`
// (bench/storm.ts), which put corral beside a bare node:cluster primary that reforks on exit.
import { readdirSync, readFileSync } from 'node:fs';
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

/** The pids whose parent is `pid` (from /proc; Linux). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // Gone meanwhile.
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) children.push(Number(entry));
  }
  return children;
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
    const children = childrenOf(options.primaryPid);
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
