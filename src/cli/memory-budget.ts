/**
 * The start line's word on memory: in a container or a systemd unit with a memory limit, and no
 * maxMemory or maxMemoryHard set, how much of that limit each worker can use before the kernel's
 * OOM killer picks one (which ends it mid-request, with no drain).
 */
import os from 'node:os';
import { formatSize } from '../options/units.js';

/** The cgroup's memory limit in bytes, or undefined when there is none (or it is above the machine's memory). */
export function cgroupMemoryLimit(): number | undefined {
  // Node reads cgroup v1 and v2 (libuv); without a limit it answers 0, or a huge number on v1.
  const limit = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : undefined;
  if (typeof limit !== 'number' || !(limit > 0) || limit >= os.totalmem()) return undefined;
  return limit;
}

/** The clause added to the start line, or undefined when there is nothing to say. */
export function memoryBudgetNote(limit: number | undefined, workers: number, limits: { maxMemory: number; maxMemoryHard: number }): string | undefined {
  if (limit === undefined || limits.maxMemory > 0 || limits.maxMemoryHard > 0) return undefined;
  return `the cgroup's memory limit is ${formatSize(limit)}: about ${formatSize(Math.floor(limit / workers))} per worker, ` +
    'the primary included; --max-memory recycles a worker before the OOM killer ends one mid-request';
}
