/** Snapshots of a managed cluster's slots and workers (`ManagedCluster.status()`, `corral status`). */
import { kRuntimeReport } from '../internal/symbols.js';
import type { ManagedWorker } from './managed-worker.js';
import type { Slot } from './slots.js';
import type { ClusterState, ClusterStatus, ExitReason, HealthReason, SlotState, SlotStatus, WorkerStatus } from './types.js';

export function workerStatus(worker: ManagedWorker): WorkerStatus {
  return {
    slot: worker.slot,
    id: worker.worker.id,
    pid: worker.pid,
    generation: worker.generation,
    // An exited worker is shown as it last was, until it leaves the snapshot.
    state: worker.state !== 'exited' ? worker.state : worker.draining !== undefined ? 'draining' : worker.isReady ? 'ready' : 'starting',
    startedAt: worker.forkedAt,
    readyAt: worker.readyAt,
    report: worker.worker[kRuntimeReport],
    inspector: worker.inspector,
  };
}

export function slotState(slot: Slot): SlotState {
  if (slot.supervisor.crashloop) return 'crashloop';
  if (slot.worker === undefined) return 'backoff';
  return slot.worker.isReady ? 'ready' : 'starting';
}

export interface ClusterFacts {
  readonly name: string;
  readonly balancer: string;
  readonly state: ClusterState;
  readonly generation: number;
  readonly reloading: number | undefined;
  /** In slot order. */
  readonly slots: readonly Slot[];
  /** Every worker process still running. */
  readonly live: Iterable<ManagedWorker>;
  /** Health actions so far, per reason. */
  readonly health: Readonly<Record<HealthReason, number>>;
  /** Worker exits so far, per reason. */
  readonly exits: Readonly<Record<ExitReason, number>>;
}

export function clusterStatus(facts: ClusterFacts): ClusterStatus {
  const serving = new Set<ManagedWorker>();
  const slots = facts.slots.map((slot): SlotStatus => {
    if (slot.worker !== undefined) serving.add(slot.worker);
    return {
      slot: slot.index,
      state: slotState(slot),
      restarts: slot.restarts,
      crashes: slot.supervisor.crashes,
      worker: slot.worker === undefined ? undefined : workerStatus(slot.worker),
      lastExit: slot.lastExit === undefined ? undefined : { ...slot.lastExit },
    };
  });
  return {
    name: facts.name,
    balancer: facts.balancer,
    state: facts.state,
    generation: facts.generation,
    reloading: facts.reloading,
    workers: facts.slots.length,
    slots,
    others: [...facts.live].filter((worker) => !serving.has(worker)).map(workerStatus),
    health: { ...facts.health },
    exits: { ...facts.exits },
  };
}
