/**
 * How many CPUs the app may really use, for `workers: 'max'` (and 'auto', and -N): the CPUs this
 * process may run on (its affinity, `taskset`, a cpuset) and the cgroup's CPU quota (a
 * container's `--cpus`, Kubernetes' CPU limit, systemd's CPUQuota=), whichever is less.
 *
 * Read here rather than taken from os.availableParallelism(): Node 20's ignores quotas (libuv
 * reads them from 1.49, in Node 22.12), and the start line says where the number came from. The
 * quota is cgroup v2's `cpu.max`, or v1's `cpu.cfs_quota_us` / `cpu.cfs_period_us`, the least
 * along the hierarchy from this process's cgroup up to the root of its mount. A fraction rounds
 * down (1.5 CPUs: 1 worker; as libuv does), and never below 1.
 */
import os from 'node:os';
import path from 'node:path';
import { cgroupPaths, leastLimit, readIfPresent, type FileReader } from './cgroup.js';

export type { FileReader };

export interface CpuBudget {
  /** Whole CPUs the app may use (at least 1): one worker each under 'max'. */
  readonly cpus: number;
  /** The machine's CPUs. */
  readonly machine: number;
  /** What made `cpus` fewer than the machine's, if anything. */
  readonly limitedBy: 'affinity' | 'cpu-quota' | undefined;
  /** The CPUs the quota allows, unrounded (1.5), when a quota is set. */
  readonly quota: number | undefined;
  /** Where the quota was read, e.g. "cgroup v2 cpu.max '150000 100000' of /kubepods/pod1". */
  readonly quotaSource: string | undefined;
}

/** "0-3,6,8-9" (Cpus_allowed_list) → 7. */
export function countCpuList(list: string): number {
  let count = 0;
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [first, last = first] = part.split('-').map(Number);
    if (first === undefined || last === undefined || !Number.isInteger(first) || !Number.isInteger(last) || last < first) return 0;
    count += last - first + 1;
  }
  return count;
}

interface Quota {
  /** CPUs the quota allows. */
  value: number;
  source: string;
}

function cpuQuota(read: FileReader): Quota | undefined {
  const paths = cgroupPaths(read, 'cpu');
  const v2 = paths.v2.map((directory): Quota | undefined => {
    const text = read(path.posix.join(directory, 'cpu.max'))?.trim();
    const [limit, period] = (text ?? '').split(/\s+/);
    if (text === undefined || limit === 'max' || limit === undefined || period === undefined) return undefined;
    const cpus = Number(limit) / Number(period);
    return Number.isFinite(cpus) && cpus > 0 ? { value: cpus, source: `cgroup v2 cpu.max '${text}' of ${directory}` } : undefined;
  });
  const v1 = paths.v1.map((directory): Quota | undefined => {
    const quota = Number(read(path.posix.join(directory, 'cpu.cfs_quota_us'))?.trim());
    const period = Number(read(path.posix.join(directory, 'cpu.cfs_period_us'))?.trim());
    if (!(quota > 0) || !(period > 0)) return undefined; // -1: no quota
    return { value: quota / period, source: `cgroup v1 cpu.cfs_quota_us ${quota} / cpu.cfs_period_us ${period} of ${directory}` };
  });
  return leastLimit([...v2, ...v1]);
}

export function cpuBudget(read: FileReader = readIfPresent): CpuBudget {
  const machine = Math.max(1, os.cpus().length);
  const allowed = /^Cpus_allowed_list:\s*(\S+)$/m.exec(read('/proc/self/status') ?? '')?.[1];
  // Off Linux (no /proc), Node's own answer: the affinity where the platform has one.
  const affinity = allowed === undefined || countCpuList(allowed) === 0 ? os.availableParallelism() : countCpuList(allowed);
  const quota = cpuQuota(read);
  const byQuota = quota === undefined ? Infinity : Math.max(1, Math.floor(quota.value));
  const cpus = Math.max(1, Math.min(affinity, byQuota, machine));
  return {
    cpus,
    machine,
    limitedBy: cpus === machine ? undefined : byQuota <= affinity ? 'cpu-quota' : 'affinity',
    quota: quota?.value,
    quotaSource: quota?.source,
  };
}

/** For the start line: where 'max' got its number of workers. */
export function describeCpuBudget(budget: CpuBudget): string {
  if (budget.limitedBy === undefined) {
    return `${budget.cpus}, all of this machine's (no CPU quota${budget.quota === undefined ? '' : ' below it'}, no affinity limit)`;
  }
  if (budget.limitedBy === 'affinity') return `${budget.cpus} of this machine's ${budget.machine} CPUs by this process's CPU affinity`;
  const fraction = budget.quota !== undefined && !Number.isInteger(budget.quota) ? ` (${Number(budget.quota.toFixed(2))} CPUs, rounded down)` : '';
  return `${budget.cpus} of this machine's ${budget.machine} CPUs by the CPU quota${fraction}: ${budget.quotaSource}`;
}
