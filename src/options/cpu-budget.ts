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
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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

/** Reads a small file, or undefined when it is not there (not Linux, no such controller). */
export type FileReader = (file: string) => string | undefined;

const readIfPresent: FileReader = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

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

interface Mount {
  /** The mount's root within the hierarchy (mountinfo's 4th field). */
  root: string;
  point: string;
  type: string;
  options: string[];
}

function cgroupMounts(read: FileReader): Mount[] {
  const mounts: Mount[] = [];
  for (const line of (read('/proc/self/mountinfo') ?? '').split('\n')) {
    const [before, after] = line.split(' - ');
    if (before === undefined || after === undefined) continue;
    const fields = before.split(' ');
    const [type, , superOptions = ''] = after.split(' ');
    if (type !== 'cgroup' && type !== 'cgroup2') continue;
    mounts.push({ root: fields[3] ?? '/', point: fields[4] ?? '', type, options: superOptions.split(',') });
  }
  return mounts;
}

/** The directories from this process's cgroup up to its mount's root, deepest first. */
function hierarchy(mount: Mount, cgroupPath: string): string[] {
  // Without a cgroup namespace, the path may repeat the mount's root (a container's bind mount).
  const relative = mount.root !== '/' && cgroupPath.startsWith(mount.root) ? cgroupPath.slice(mount.root.length) : cgroupPath;
  const directories: string[] = [];
  let current = path.posix.normalize(`/${relative}`);
  for (;;) {
    directories.push(current === '/' ? mount.point : path.posix.join(mount.point, current));
    if (current === '/') break;
    current = path.posix.dirname(current);
  }
  return directories;
}

interface Quota {
  cpus: number;
  source: string;
}

function leastQuota(quotas: readonly (Quota | undefined)[]): Quota | undefined {
  return quotas.reduce<Quota | undefined>((least, quota) => (quota !== undefined && (least === undefined || quota.cpus < least.cpus) ? quota : least), undefined);
}

function cgroupV2Quota(read: FileReader, cgroups: readonly string[][], mounts: readonly Mount[]): Quota | undefined {
  const own = cgroups.find(([id, controllers]) => id === '0' && controllers === '');
  const mount = mounts.find((candidate) => candidate.type === 'cgroup2');
  if (own === undefined || mount === undefined) return undefined;
  return leastQuota(hierarchy(mount, own[2] ?? '/').map((directory) => {
    const text = read(path.posix.join(directory, 'cpu.max'))?.trim();
    const [limit, period] = (text ?? '').split(/\s+/);
    if (text === undefined || limit === 'max' || limit === undefined || period === undefined) return undefined;
    const cpus = Number(limit) / Number(period);
    return Number.isFinite(cpus) && cpus > 0 ? { cpus, source: `cgroup v2 cpu.max '${text}' of ${directory}` } : undefined;
  }));
}

function cgroupV1Quota(read: FileReader, cgroups: readonly string[][], mounts: readonly Mount[]): Quota | undefined {
  const own = cgroups.find(([, controllers]) => (controllers ?? '').split(',').includes('cpu'));
  const mount = mounts.find((candidate) => candidate.type === 'cgroup' && candidate.options.includes('cpu'));
  if (own === undefined || mount === undefined) return undefined;
  return leastQuota(hierarchy(mount, own[2] ?? '/').map((directory) => {
    const quota = Number(read(path.posix.join(directory, 'cpu.cfs_quota_us'))?.trim());
    const period = Number(read(path.posix.join(directory, 'cpu.cfs_period_us'))?.trim());
    if (!(quota > 0) || !(period > 0)) return undefined; // -1: no quota
    return { cpus: quota / period, source: `cgroup v1 cpu.cfs_quota_us ${quota} / cpu.cfs_period_us ${period} of ${directory}` };
  }));
}

export function cpuBudget(read: FileReader = readIfPresent): CpuBudget {
  const machine = Math.max(1, os.cpus().length);
  const allowed = /^Cpus_allowed_list:\s*(\S+)$/m.exec(read('/proc/self/status') ?? '')?.[1];
  // Off Linux (no /proc), Node's own answer: the affinity where the platform has one.
  const affinity = allowed === undefined || countCpuList(allowed) === 0 ? os.availableParallelism() : countCpuList(allowed);
  const cgroups = (read('/proc/self/cgroup') ?? '').split('\n').filter((line) => line !== '').map((line) => {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    return [line.slice(0, first), line.slice(first + 1, second), line.slice(second + 1)];
  });
  const mounts = cgroupMounts(read);
  const quota = leastQuota([cgroupV2Quota(read, cgroups, mounts), cgroupV1Quota(read, cgroups, mounts)]);
  const byQuota = quota === undefined ? Infinity : Math.max(1, Math.floor(quota.cpus));
  const cpus = Math.max(1, Math.min(affinity, byQuota, machine));
  return {
    cpus,
    machine,
    limitedBy: cpus === machine ? undefined : byQuota <= affinity ? 'cpu-quota' : 'affinity',
    quota: quota?.cpus,
    quotaSource: quota?.source,
  };
}

/** For the start line: why 'max' means `cpus` workers here, when it is fewer than the machine's CPUs. */
export function describeCpuBudget(budget: CpuBudget): string | undefined {
  if (budget.limitedBy === undefined) return undefined;
  if (budget.limitedBy === 'affinity') return `${budget.cpus} of this machine's ${budget.machine} CPUs by this process's CPU affinity`;
  const fraction = budget.quota !== undefined && !Number.isInteger(budget.quota) ? ` (${Number(budget.quota.toFixed(2))} CPUs, rounded down)` : '';
  return `${budget.cpus} of this machine's ${budget.machine} CPUs by the CPU quota${fraction}: ${budget.quotaSource}`;
}
