/**
 * The primary's own standard process metrics, by the names every Prometheus client library uses
 * (prometheus.io, "Writing client libraries": process_cpu_seconds_total and the rest). The
 * figures Linux keeps in /proc (virtual memory, descriptors) are left out elsewhere rather than
 * guessed.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { MetricFamily } from './exposition.js';

/** The names written here: an app metric of the same name (prom-client's default metrics) is left out. */
export const PROCESS_METRIC_NAMES: ReadonlySet<string> = new Set([
  'process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total', 'process_start_time_seconds',
  'process_resident_memory_bytes', 'process_virtual_memory_bytes', 'process_heap_bytes', 'process_open_fds', 'process_max_fds',
]);

const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });
const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ value }] });

async function virtualMemoryBytes(): Promise<number | undefined> {
  try {
    const stat = await readFile('/proc/self/stat', 'utf8');
    // Fields after the command name (which may hold spaces): vsize is the 23rd field of the line.
    const value = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[20]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function openDescriptors(): Promise<number | undefined> {
  try {
    return (await readdir('/proc/self/fd')).length;
  } catch {
    return undefined;
  }
}

async function maxDescriptors(): Promise<number | undefined> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

export async function processFamilies(): Promise<MetricFamily[]> {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const [virtual, open, max] = await Promise.all([virtualMemoryBytes(), openDescriptors(), maxDescriptors()]);
  const families: MetricFamily[] = [
    counter('process_cpu_user_seconds_total', 'User CPU time the primary spent, in seconds.', cpu.user / 1e6),
    counter('process_cpu_system_seconds_total', 'System CPU time the primary spent, in seconds.', cpu.system / 1e6),
    counter('process_cpu_seconds_total', 'User and system CPU time the primary spent, in seconds.', (cpu.user + cpu.system) / 1e6),
    gauge('process_start_time_seconds', 'When the primary started, in seconds since the Unix epoch.', Math.round(Date.now() / 1000 - process.uptime())),
    gauge('process_resident_memory_bytes', "The primary's resident memory size, in bytes.", memory.rss),
    gauge('process_heap_bytes', "The primary's V8 heap size, in bytes.", memory.heapTotal),
  ];
  if (virtual !== undefined) families.push(gauge('process_virtual_memory_bytes', "The primary's virtual memory size, in bytes.", virtual));
  if (open !== undefined) families.push(gauge('process_open_fds', 'Open file descriptors of the primary.', open));
  if (max !== undefined) families.push(gauge('process_max_fds', 'The most file descriptors the primary may open.', max));
  return families;
}
