/**
 * What `corral status --json` prints (schema version 1, documented in the README), built in the
 * primary from the cluster's state and the processes' RSS and CPU.
 */
import type {
  ClusterState, ExitReason, HealthReason, ManagedCluster, SlotState, WorkerLifecycleState, WorkerStatus,
} from '../managed/managed-cluster.js';
import { type CpuMeter, type ProcessStats } from './process-stats.js';

export interface WorkerReport {
  id: number;
  pid: number | null;
  generation: number;
  state: WorkerLifecycleState;
  /** ms since its fork. */
  uptime: number;
  /** Resident set size in bytes (null where unknown). */
  rss: number | null;
  /**
   * CPU use in percent of one core (null where unknown): over its latest runtime report's
   * interval while its reports come, else over the last 0.2 to 1.2 s as /proc tells.
   */
  cpu: number | null;
  /** From the worker's latest runtime report; null until one came (or for a worker without corral's runtime). */
  runtime: {
    /** ms since that report was taken. */
    age: number;
    /** ms its timer fired late (a lower bound on the longest event loop block in its interval). */
    loopDelay: number;
    /** CPU the worker used over that report's interval, in cores. */
    cpu: number;
    heapUsed: number;
    heapTotal: number;
    /** RSS as the worker measured it at that report, in bytes (what maxMemory reads). */
    rss: number;
    connections: number;
    requests: number;
  } | null;
  /**
   * Its debugger's address when the Node options start an inspector (`--inspect`…): the slot's
   * port, the same across restarts and reloads; `open` is false while a replacement waits for the
   * worker it replaces to exit and free that port. null: no inspector.
   */
  inspector: { host: string; port: number; open: boolean } | null;
}

export interface StatusReport {
  v: 1;
  name: string;
  /** The primary's pid. */
  pid: number;
  state: ClusterState;
  /** The generation the cluster serves (of the latest reload that finished). */
  generation: number;
  /** The generation a reload under way rolls out, or null. */
  reloading: number | null;
  /** The configured worker count. */
  workers: number;
  /** The balancer's name. */
  balancer: string;
  /** The admin server's URL (`--admin`: /metrics and the dashboard), or null. */
  admin: string | null;
  /** When this report was taken (ISO 8601). */
  at: string;
  /** When the primary started (ISO 8601). */
  startedAt: string;
  uptime: number;
  primary: { pid: number; rss: number | null; cpu: number | null };
  slots: {
    slot: number;
    state: SlotState;
    restarts: number;
    crashes: number;
    worker: WorkerReport | null;
    /** How the slot's latest worker to exit ended; null until one has. */
    lastExit: {
      reason: ExitReason;
      workerId: number;
      pid: number | null;
      code: number | null;
      signal: string | null;
      /** When (ISO 8601). */
      at: string;
    } | null;
  }[];
  /** Health actions since the primary started, per reason (hang, memory, requests, age). */
  health: Record<HealthReason, number>;
  /** Workers draining away (reload, scale-down) or replacements still starting. */
  others: (WorkerReport & { slot: number })[];
}

/**
 * A report this recent stands in for /proc: the worker measured its own RSS and CPU in it. With
 * hundreds of workers, reading /proc for each made `corral status` take seconds, and the CPU
 * meter read hundreds of files a second all the while.
 */
function freshReport(worker: WorkerStatus, now: number): WorkerStatus['report'] {
  const { report } = worker;
  return report !== undefined && now - report.at <= 2 * Math.max(report.interval, 1_000) ? report : undefined;
}

/** The pids whose RSS and CPU come from /proc: the primary's, and those of workers without a fresh report. */
export function statusPids(cluster: ManagedCluster, now = Date.now()): number[] {
  const status = cluster.status();
  const workers = [...status.slots.flatMap((slot) => (slot.worker === undefined ? [] : [slot.worker])), ...status.others];
  return [process.pid, ...workers.flatMap((worker) => (worker.pid === undefined || freshReport(worker, now) !== undefined ? [] : [worker.pid]))];
}

export async function statusReport(cluster: ManagedCluster, startedAt: number, meter: CpuMeter): Promise<StatusReport> {
  const status = cluster.status();
  // One instant decides which reports are fresh, for the sample and for the report alike.
  const now = Date.now();
  const stats = await meter.sample(statusPids(cluster, now));
  const report = (worker: WorkerStatus): WorkerReport => {
    const fresh = freshReport(worker, now);
    const sample: ProcessStats | undefined = fresh !== undefined ? { rss: fresh.memory.rss, cpu: Math.round(fresh.cpu * 1000) / 10 }
      : worker.pid === undefined ? undefined : stats.get(worker.pid);
    return {
      id: worker.id,
      pid: worker.pid ?? null,
      generation: worker.generation,
      state: worker.state,
      uptime: now - worker.startedAt,
      rss: sample?.rss ?? null,
      cpu: sample?.cpu ?? null,
      runtime: worker.report === undefined ? null : {
        age: Math.max(0, now - worker.report.at),
        loopDelay: worker.report.loop.delay,
        cpu: worker.report.cpu,
        heapUsed: worker.report.memory.heapUsed,
        heapTotal: worker.report.memory.heapTotal,
        rss: worker.report.memory.rss,
        connections: worker.report.connections,
        requests: worker.report.requests,
      },
      inspector: worker.inspector === undefined ? null : { ...worker.inspector },
    };
  };
  const own = stats.get(process.pid);
  return {
    v: 1,
    name: status.name,
    balancer: status.balancer,
    admin: cluster.adminUrl ?? null,
    pid: process.pid,
    state: status.state,
    generation: status.generation,
    reloading: status.reloading ?? null,
    workers: status.workers,
    at: new Date(now).toISOString(),
    startedAt: new Date(startedAt).toISOString(),
    uptime: now - startedAt,
    primary: { pid: process.pid, rss: own?.rss ?? null, cpu: own?.cpu ?? null },
    slots: status.slots.map((slot) => ({
      slot: slot.slot, state: slot.state, restarts: slot.restarts, crashes: slot.crashes,
      worker: slot.worker === undefined ? null : report(slot.worker),
      lastExit: slot.lastExit === undefined ? null : {
        reason: slot.lastExit.reason, workerId: slot.lastExit.workerId, pid: slot.lastExit.pid ?? null,
        code: slot.lastExit.code, signal: slot.lastExit.signal, at: new Date(slot.lastExit.at).toISOString(),
      },
    })),
    health: status.health,
    others: status.others.map((worker) => ({ slot: worker.slot, ...report(worker) })),
  };
}
