// What a benchmark reads of a process from /proc: its CPU time and its RSS.
import { readFileSync } from 'node:fs';

/** CPU time of a process (all its threads) in ms, from /proc/<pid>/schedstat (ns, not 10 ms ticks). */
export function cpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

export function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}
