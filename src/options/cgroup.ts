/**
 * This process's cgroup, as the limits on it are read (cpu-budget.ts, the memory limit): its
 * cgroup v2 directory and its v1 directory of a controller, each with every directory above it
 * up to the root of its mount, deepest first. A limit anywhere on that path applies, so readers
 * take the least. In a container without a cgroup namespace, /proc/self/cgroup repeats the
 * mount's root, which is taken off.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Reads a small file, or undefined when it is not there (not Linux, no such controller). */
export type FileReader = (file: string) => string | undefined;

export const readIfPresent: FileReader = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

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

export interface CgroupPaths {
  /** cgroup v2: this process's directory and those above it, deepest first ([] without v2). */
  v2: string[];
  /** cgroup v1: the same in the hierarchy of `controller` ([] without it). */
  v1: string[];
}

export function cgroupPaths(read: FileReader, controller: string): CgroupPaths {
  const own = (read('/proc/self/cgroup') ?? '').split('\n').filter((line) => line !== '').map((line) => {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    return { id: line.slice(0, first), controllers: line.slice(first + 1, second).split(','), path: line.slice(second + 1) };
  });
  const mounts = cgroupMounts(read);
  const v2Own = own.find((entry) => entry.id === '0' && entry.controllers.join('') === '');
  const v2Mount = mounts.find((mount) => mount.type === 'cgroup2');
  const v1Own = own.find((entry) => entry.controllers.includes(controller));
  const v1Mount = mounts.find((mount) => mount.type === 'cgroup' && mount.options.includes(controller));
  return {
    v2: v2Own === undefined || v2Mount === undefined ? [] : hierarchy(v2Mount, v2Own.path),
    v1: v1Own === undefined || v1Mount === undefined ? [] : hierarchy(v1Mount, v1Own.path),
  };
}

/** The least of limits read along the paths (a limit and where it was read). */
export function leastLimit<T extends { value: number }>(limits: readonly (T | undefined)[]): T | undefined {
  return limits.reduce<T | undefined>((least, limit) => (limit !== undefined && (least === undefined || limit.value < least.value) ? limit : least), undefined);
}
