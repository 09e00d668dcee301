/**
 * Memory (RSS) and CPU of processes, for `corral status`, read from /proc on Linux. Elsewhere the
 * figures are left out (undefined) rather than guessed.
 */
import { readFile } from 'node:fs/promises';

export interface ProcessStats {
  /** Resident set size, in bytes. */
  rss: number | undefined;
  /** CPU use over the sampling interval, in percent of one core. */
  cpu: number | undefined;
}

/** Linux counts CPU time in clock ticks of 1/100 s (USER_HZ) on every architecture it runs on. */
const TICKS_PER_SECOND = 100;
const SAMPLE_MS = 200;

async function cpuTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (2nd field) may hold spaces and parentheses: fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15)
  } catch {
    return undefined;
  }
}

async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/** RSS now and CPU over a short sample, for each pid. */
export async function sampleProcesses(pids: readonly number[]): Promise<Map<number, ProcessStats>> {
  const before = await Promise.all(pids.map(cpuTicks));
  const startedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  const after = await Promise.all(pids.map(cpuTicks));
  const seconds = (performance.now() - startedAt) / 1000;
  const rss = await Promise.all(pids.map(rssBytes));
  const stats = new Map<number, ProcessStats>();
  pids.forEach((pid, index) => {
    const first = before[index];
    const last = after[index];
    stats.set(pid, {
      rss: rss[index],
      cpu: first === undefined || last === undefined ? undefined : Math.round(((last - first) / TICKS_PER_SECOND / seconds) * 1000) / 10,
    });
  });
  return stats;
}
