/**
 * The start line's word on memory: in a container or a systemd unit with a memory limit, and no
 * maxMemory or maxMemoryHard set, how much of that limit each worker can use before the kernel's
 * OOM killer picks one (which ends it mid-request, with no drain).
 */
import os from 'node:os';
import path from 'node:path';
import { cgroupPaths, leastLimit, readIfPresent, type FileReader } from '../options/cgroup.js';
import { formatSize } from '../options/units.js';

export interface MemoryLimit {
  /** Bytes. */
  value: number;
  /** Where it was read: "cgroup v2 memory.max of /sys/fs/cgroup/…", or Node's own reading. */
  source: string;
}

/**
 * The cgroup's memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`, the least along the
 * hierarchy, as the CPU quota is read), or undefined when there is none or it is above the
 * machine's memory. Where /proc has no answer, Node's own reading (libuv) is taken.
 */
export function cgroupMemoryLimit(read: FileReader = readIfPresent): MemoryLimit | undefined {
  const paths = cgroupPaths(read, 'memory');
  const v2 = paths.v2.map((directory): MemoryLimit | undefined => {
    const text = read(path.posix.join(directory, 'memory.max'))?.trim();
    const value = Number(text);
    return text === undefined || text === 'max' || !(value > 0) ? undefined : { value, source: `cgroup v2 memory.max of ${directory}` };
  });
  const v1 = paths.v1.map((directory): MemoryLimit | undefined => {
    const value = Number(read(path.posix.join(directory, 'memory.limit_in_bytes'))?.trim());
    return value > 0 ? { value, source: `cgroup v1 memory.limit_in_bytes of ${directory}` } : undefined;
  });
  let limit = leastLimit([...v2, ...v1]);
  if (paths.v1.length === 0 && paths.v2.length === 0 && typeof process.constrainedMemory === 'function') {
    const constrained = process.constrainedMemory();
    if (constrained > 0) limit = { value: constrained, source: "Node's process.constrainedMemory()" };
  }
  // No limit reads as "max", or as a huge number on v1.
  return limit === undefined || limit.value >= os.totalmem() ? undefined : limit;
}

/** The clause added to the start line, or undefined when there is nothing to say. */
export function memoryBudgetNote(limit: MemoryLimit | undefined, workers: number, limits: { maxMemory: number; maxMemoryHard: number }): string | undefined {
  if (limit === undefined || limits.maxMemory > 0 || limits.maxMemoryHard > 0) return undefined;
  return `the cgroup's memory limit is ${formatSize(limit.value)} (${limit.source}): about ${formatSize(Math.floor(limit.value / workers))} per worker, ` +
    'the primary included; --max-memory recycles a worker before the OOM killer ends one mid-request';
}
