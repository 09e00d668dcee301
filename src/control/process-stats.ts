/**
 * Memory (RSS) and CPU of processes, for `corral status`, read from /proc on Linux. Elsewhere the
 * figures are left out (undefined) rather than guessed.
 */
import { readFile } from 'node:fs/promises';

export interface ProcessStats {
  /** Resident set size, in bytes. */
  rss: number | undefined;
  /** CPU use over the last 0.2 to 1.2 s (CpuMeter), or a 200 ms sample, in percent of one core. */
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

interface Reading {
  readonly ticks: number;
  readonly at: number;
}

/** How often a CpuMeter reads its processes' CPU time. */
const METER_INTERVAL = 1_000;

/**
 * CPU use without waiting: the CPU time of each process is read every second (one small /proc
 * read per process, from an unref'ed timer), so a status request compares "now" with a reading
 * 0.2 to 1.2 s old and answers at once. `corral list` asks every app for its status; without
 * this, each answer waited for a 200 ms sample. A process too new to have a reading that old is
 * sampled as before.
 */
export class CpuMeter {
  readonly #readings = new Map<number, Reading[]>();
  readonly #pids: () => readonly number[];
  #timer: NodeJS.Timeout | undefined;

  constructor(pids: () => readonly number[]) {
    this.#pids = pids;
    void this.#read();
    this.#timer = setInterval(() => void this.#read(), METER_INTERVAL).unref();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #read(): Promise<void> {
    const pids = this.#pids();
    const ticks = await Promise.all(pids.map(cpuTicks));
    const at = performance.now();
    const live = new Set(pids);
    for (const pid of this.#readings.keys()) if (!live.has(pid)) this.#readings.delete(pid);
    pids.forEach((pid, index) => {
      const value = ticks[index];
      if (value === undefined) return;
      // Two readings are kept: the newer may be too recent to measure against.
      this.#readings.set(pid, [...(this.#readings.get(pid) ?? []), { ticks: value, at }].slice(-2));
    });
  }

  /** RSS now, and CPU since a reading at least SAMPLE_MS old (a fresh sample for processes without one). */
  async sample(pids: readonly number[]): Promise<Map<number, ProcessStats>> {
    const [ticks, rss] = await Promise.all([Promise.all(pids.map(cpuTicks)), Promise.all(pids.map(rssBytes))]);
    const now = performance.now();
    const stats = new Map<number, ProcessStats>();
    const unmeasured: number[] = [];
    pids.forEach((pid, index) => {
      const reading = this.#readings.get(pid)?.findLast((candidate) => now - candidate.at >= SAMPLE_MS);
      const current = ticks[index];
      if (reading === undefined || current === undefined) {
        unmeasured.push(pid);
        return;
      }
      const seconds = (now - reading.at) / 1000;
      stats.set(pid, { rss: rss[index], cpu: Math.round(((current - reading.ticks) / TICKS_PER_SECOND / seconds) * 1000) / 10 });
    });
    if (unmeasured.length > 0) for (const [pid, stat] of await sampleProcesses(unmeasured)) stats.set(pid, stat);
    return stats;
  }
}
