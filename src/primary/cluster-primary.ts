/**
 * node:cluster's primary, implemented by corral: `fork()`, `workers`, `settings`,
 * `setupPrimary()`, `schedulingPolicy`, `disconnect()` and the cluster events, speaking the
 * protocol of Node's own worker half (lib/internal/cluster/child.js).
 */
import type { SendHandle } from 'node:child_process';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { SCHED_NONE, SCHED_RR } from '../constants.js';
import {
  assertBalancerRuns, balancerOfPolicy, definitionOf, nameOf, type BalancerChoice, type BalancerSettings,
} from './balancers/balancers.js';
import { InvalidControlFrameError, InvalidOptionError, SettingsFrozenError } from '../errors.js';
import { describeValue } from '../util/describe-value.js';
import { GroupedWarnings } from '../util/grouped-warnings.js';
import { emitWarningOnce, type CorralWarningCode } from '../warnings.js';
import type { ClusterFrame } from '../internal/node-internals.js';
import { kAttachOwner, kClusterChannel, kForkWith, kHandoffsAccepted, kOnConfigChange, kSlot } from '../internal/symbols.js';
import type {
  ClusterSettings, ExitSignal, SchedulingPolicy, WorkerAddress,
} from '../types.js';
import { borrowedDescriptorProblem } from './borrowed-descriptor.js';
import { ClusterChannel } from './cluster-channel.js';
import { ServerRegistry } from './server-registry.js';
import {
  DEFAULT_MAX_SERVERS_PER_WORKER, existingDirectory, initialSchedulingPolicy, isSchedulingPolicy, mergeSettings,
  policyName, resolveExec, validateSettings,
} from './settings.js';
import { socketsFromSystemd } from './socket-activation.js';
import { spawnWorkerProcess } from './spawn.js';
import { Worker, type WorkerOwner } from './worker.js';
import { parseListeningAddress, parseListenQuery } from './cluster-frames.js';

/** Events of the primary-side cluster, with node:cluster's arguments. */
export interface ClusterEvents {
  fork: [worker: Worker];
  online: [worker: Worker];
  listening: [worker: Worker, address: WorkerAddress];
  message: [worker: Worker, message: unknown, handle: SendHandle | undefined];
  disconnect: [worker: Worker];
  exit: [worker: Worker, code: number | null, signal: ExitSignal];
  setup: [settings: ClusterSettings];
}

export interface ClusterPrimaryOptions {
  /** The starting policy; defaults to node:cluster's (NODE_CLUSTER_SCHED_POLICY, then the platform's). */
  schedulingPolicy?: SchedulingPolicy;
  /**
   * The starting balancer, by name or a balancer of one's own (it decides `schedulingPolicy`);
   * takes precedence over `schedulingPolicy`.
   */
  balancer?: BalancerChoice;
  /** sticky balancer: the HTTP header that names the client (behind a proxy), instead of its address. Managed workers only: theirs replay the bytes read. */
  stickyHeader?: string;
  /**
   * sticky balancer by `X-Forwarded-For` or `Forwarded`: how many proxies in front of corral append
   * to it; the client is that many entries from the right. @default 1
   */
  stickyProxyHops?: number;
  /**
   * Descriptors of listening sockets this process inherited, which workers share with
   * `listen({ fd })` and which stay open while workers come and go. Defaults to the sockets
   * systemd passed by socket activation (LISTEN_PID, LISTEN_FDS), if any.
   */
  inheritedSockets?: readonly number[];
}

/** The sticky settings as the dispatchers take them: the header in lower case, the hops checked. */
function balancerSettings({ stickyHeader, stickyProxyHops }: BalancerSettings): BalancerSettings {
  if (stickyProxyHops !== undefined && !(Number.isSafeInteger(stickyProxyHops) && stickyProxyHops >= 1)) {
    throw new InvalidOptionError('stickyProxyHops', 'a whole number ≥ 1 (how many proxies in front of corral append to the sticky header)', stickyProxyHops);
  }
  return { stickyHeader: stickyHeader?.toLowerCase(), stickyProxyHops };
}

const UV_EINVAL = -os.constants.errno.EINVAL;
const UV_EBADF = -os.constants.errno.EBADF;
const UV_EMFILE = -os.constants.errno.EMFILE;

type FrameHandler = (worker: Worker, control: ClusterChannel, frame: ClusterFrame) => void;

export class ClusterPrimary extends EventEmitter<ClusterEvents> implements WorkerOwner {
  readonly isPrimary = true as const;
  /** @deprecated Alias of `isPrimary`, as in node:cluster. */
  readonly isMaster = true as const;
  readonly isWorker = false as const;
  readonly SCHED_NONE = SCHED_NONE;
  readonly SCHED_RR = SCHED_RR;
  readonly Worker = Worker;
  /** Only set inside a worker (node:cluster's own `cluster.worker`). */
  readonly worker: undefined = undefined;
  /**
   * Live workers by id. A worker leaves once it is disconnected and dead, or at once on
   * `worker.disconnect()` and when a managed cluster drains it (stopRouting()), as node:cluster's
   * does on disconnect: code that picks workers from here never picks one that is about to exit.
   */
  workers: Record<number, Worker> = {};
  /** `{}` until the first `setupPrimary()`/`fork()`; then the settings later forks use. */
  settings: ClusterSettings = {};
  #balancer: BalancerChoice;
  #balancerSettings: BalancerSettings;
  #frozen = false;
  #lastId = 0;
  readonly #registry: ServerRegistry;
  /** holdServers(): which lost workers' servers stay open for a replacement. */
  #holdFor: ((worker: Worker) => boolean) | undefined;
  /** Connections handed to workers that have exited since, and accepted by them. */
  #retiredHandoffs = 0;
  /**
   * Every worker forked and not yet forgotten (disconnected and dead), including those that have
   * left `workers` already (disconnecting or draining): corral's own counts go over these.
   */
  readonly #forked = new Set<Worker>();
  readonly #disconnectWaiters = new Set<() => void>();
  readonly #configObservers = new Set<() => void>();
  readonly #warnings = new GroupedWarnings();
  readonly #frameHandlers: Readonly<Record<string, FrameHandler>> = {
    online: (worker) => {
      worker.state = 'online';
      worker.emit('online');
      this.emit('online', worker);
    },
    queryServer: (worker, control, frame) => this.#queryServer(worker, control, frame),
    listening: (worker, _control, frame) => {
      const address = parseListeningAddress(frame);
      if (!address.ok) {
        this.#warnings.warn(worker.id, ...warningOf(new InvalidControlFrameError(worker.id, frame['act'], address.problem)));
        return;
      }
      worker.state = 'listening';
      worker.emit('listening', address.value);
      this.emit('listening', worker, address.value);
    },
    close: (worker, _control, frame) => this.#registry.close(worker, frame['key']),
    exitedAfterDisconnect: (worker, control, frame) => {
      worker.exitedAfterDisconnect = true;
      control.send({ ack: frame['seq'] });
    },
  };

  constructor(options: ClusterPrimaryOptions = {}) {
    super();
    this.#balancer = options.balancer ?? balancerOfPolicy(options.schedulingPolicy ?? initialSchedulingPolicy());
    assertBalancerRuns(this.#balancer);
    const inherited = options.inheritedSockets ?? socketsFromSystemd().map((socket) => socket.fd);
    this.#balancerSettings = balancerSettings(options);
    this.#registry = new ServerRegistry(() => definitionOf(this.#balancer), () => this.#balancerSettings, new Set(inherited));
  }

  /**
   * `SCHED_RR` or `SCHED_NONE`. Can be set until the first `setupPrimary()` or `fork()`; after that
   * a different value throws `SettingsFrozenError`.
   */
  get schedulingPolicy(): SchedulingPolicy {
    return definitionOf(this.#balancer).policy;
  }

  set schedulingPolicy(policy: SchedulingPolicy) {
    if (!isSchedulingPolicy(policy)) {
      throw new InvalidOptionError('cluster.schedulingPolicy', 'cluster.SCHED_RR (2) or cluster.SCHED_NONE (1)', policy);
    }
    if (policy === this.schedulingPolicy) return;
    this.setBalancer(balancerOfPolicy(policy));
  }

  /** The balancer in use, by name (`schedulingPolicy` names node:cluster's two). */
  get balancer(): string {
    return nameOf(this.#balancer);
  }

  /** @internal Chooses the balancer; like `schedulingPolicy`, only until the first `setupPrimary()`/`fork()`. */
  setBalancer(balancer: BalancerChoice, settings: BalancerSettings = {}): void {
    const resolved = balancerSettings(settings);
    if (balancer === this.#balancer && resolved.stickyHeader === this.#balancerSettings.stickyHeader &&
      resolved.stickyProxyHops === this.#balancerSettings.stickyProxyHops) return;
    assertBalancerRuns(balancer);
    if (this.#frozen) {
      throw new SettingsFrozenError('cluster.schedulingPolicy', policyName(this.schedulingPolicy),
        'Set it before the first fork(), or start the primary with NODE_CLUSTER_SCHED_POLICY=rr or =none.');
    }
    this.#balancer = balancer;
    this.#balancerSettings = resolved;
    this.#configChanged();
  }

  /** Merges `settings` into `cluster.settings` for later forks and emits `'setup'`. */
  readonly setupPrimary = (settings?: ClusterSettings): void => {
    validateSettings(settings);
    const merged = mergeSettings(this.settings, settings ?? undefined);
    this.settings = merged;
    this.#frozen = true;
    this.#configChanged();
    process.nextTick(() => this.emit('setup', merged));
  };

  /** @deprecated Alias of `setupPrimary` (the same function). */
  readonly setupMaster = this.setupPrimary;

  /** Starts a worker running `settings.exec`, with `env` added to the primary's environment. */
  readonly fork = (env?: NodeJS.ProcessEnv): Worker => this.#fork(env, undefined);

  /** @internal A managed cluster's fork: `inspectArgs` instead of node:cluster's inspector port (spawn.ts). */
  [kForkWith](env: NodeJS.ProcessEnv, inspectArgs: readonly string[]): Worker {
    return this.#fork(env, inspectArgs);
  }

  #fork(env: NodeJS.ProcessEnv | undefined, inspectArgs: readonly string[] | undefined): Worker {
    if (env !== undefined && env !== null && (typeof env !== 'object' || Array.isArray(env))) {
      // node:cluster spreads whatever it gets into the environment, and programs rely on that
      // not throwing (Node's own tests call cluster.fork(__filename)): do the same, and say so.
      emitWarningOnce('CORRAL_FORK_ENV_NOT_OBJECT',
        `cluster.fork() takes an object of environment variables, got ${describeValue(env)}. As node:cluster ` +
        'does, corral spreads it into the worker\'s environment (a string becomes variables named 0, 1, 2…). ' +
        'Pass an object such as { PORT: \'8000\' }, or nothing.');
      env = { ...(env as object) };
    }
    this.setupPrimary();
    const exec = resolveExec(this.settings);
    if (this.settings.cwd !== undefined) existingDirectory(this.settings.cwd, 'settings.cwd');
    const id = ++this.#lastId;
    const child = spawnWorkerProcess(id, exec, this.settings, env ?? undefined, inspectArgs);
    const worker = new Worker({ id, process: child });
    const control = new ClusterChannel(child, (frame) => this.#onFrame(worker, control, frame));
    worker[kAttachOwner](this, control);

    worker.on('message', (message, handle) => this.emit('message', worker, message, handle));
    child.once('error', () => {
      // A spawn that failed (no pid) is followed by no 'exit': the worker never ran, so it
      // leaves `workers` now. The error itself reaches the worker's 'error' listeners.
      if (child.pid !== undefined) return;
      worker.state = 'dead';
      this.#forget(worker, control);
    });
    child.once('exit', (code, signal) => {
      this.#registry.releaseWorker(worker); // Its copies of lent sockets are closed now.
      this.#retiredHandoffs += worker[kHandoffsAccepted];
      if (!worker.isConnected()) this.#forget(worker, control);
      worker.exitedAfterDisconnect = worker.exitedAfterDisconnect === true;
      worker.state = 'dead';
      worker.emit('exit', code, signal);
      this.emit('exit', worker, code, signal);
    });
    child.once('disconnect', () => {
      this.#registry.removeWorker(worker, this.#holds(worker));
      control.close();
      if (worker.isDead()) this.#forget(worker, control);
      worker.exitedAfterDisconnect = worker.exitedAfterDisconnect === true;
      worker.state = 'disconnected';
      worker.emit('disconnect');
      this.emit('disconnect', worker);
      this.#checkDisconnectWaiters();
    });

    process.nextTick(() => this.emit('fork', worker));
    this.workers[id] = worker;
    this.#forked.add(worker);
    return worker;
  }

  /**
   * Disconnects every connected worker. `callback` runs once all of them have closed their IPC
   * channels (their shared servers are released at once; on the next tick when there are none).
   */
  readonly disconnect = (callback?: () => void): void => {
    const workers = Object.values(this.workers);
    for (const worker of workers) {
      if (worker.isConnected()) worker.disconnect();
    }
    if (typeof callback !== 'function') return;
    // Their servers were released synchronously by worker.disconnect(); what remains is for
    // each channel to close. Workers forked after this call do not hold the callback back.
    const done = (): boolean => workers.every((worker) => !worker.isConnected());
    if (done()) {
      process.nextTick(callback);
      return;
    }
    const waiter = (): void => {
      if (!done()) return;
      this.#disconnectWaiters.delete(waiter);
      callback();
    };
    this.#disconnectWaiters.add(waiter);
  };

  /** @internal `worker.disconnect()` from the primary. */
  disconnectWorker(worker: Worker): void {
    worker.exitedAfterDisconnect = true;
    worker[kClusterChannel]?.send({ act: 'disconnect' });
    this.#registry.removeWorker(worker);
    this.#removeFromWorkers(worker);
  }

  /**
   * @internal Takes `worker` out of every server at once (no new connections reach it) without
   * asking it to disconnect: the managed cluster's drain, where the worker's runtime closes its
   * servers itself and finishes what is in flight. Its exit then counts as asked for.
   *
   * It leaves `workers` too, as a disconnected worker does in node:cluster: libraries that route
   * by `cluster.workers` themselves (@socket.io/sticky's setupMaster()) must not send new clients
   * to it. Its Worker object stays whole: messages, 'disconnect' and 'exit' still come.
   */
  stopRouting(worker: Worker, replaced = false): void {
    worker.exitedAfterDisconnect = true;
    this.#registry.removeWorker(worker, replaced && this.#holds(worker));
    this.#removeFromWorkers(worker);
  }

  /**
   * @internal A managed cluster that runs says, of each worker it loses (a crash, a health kill:
   * `stopRouting(worker, true)`), whether a replacement is coming: then a server that worker was
   * the last on stays open, and new connections wait for the replacement rather than being
   * refused. node:cluster closes it (so does this primary without `decide`). Withdrawing `decide`
   * closes the servers no worker rejoined.
   */
  holdServers(decide: ((worker: Worker) => boolean) | undefined): void {
    this.#holdFor = decide;
    if (decide === undefined) this.#registry.closeVacant();
  }

  /** Whether the servers `worker` leaves stay open for its replacement: a managed slot's worker that will be replaced. */
  #holds(worker: Worker): boolean {
    return worker[kSlot] !== undefined && this.#holdFor?.(worker) === true;
  }

  /** @internal Closes the servers held open that no worker rejoined (every slot is ready: none will). */
  closeVacantServers(): void {
    this.#registry.closeVacant();
  }

  /** @internal The managed cluster will not refill `slot` (scale-down): the reuseport balancer empties and closes its sockets. */
  retireSlot(slot: number): void {
    this.#registry.retireSlot(slot);
  }

  /**
   * @internal Calls `observer` synchronously whenever `settings` or `schedulingPolicy` changes
   * (the package's live `settings`/`schedulingPolicy` exports follow them this way).
   */
  [kOnConfigChange](observer: () => void): void {
    this.#configObservers.add(observer);
  }

  #configChanged(): void {
    for (const observer of this.#configObservers) observer();
  }

  /**
   * The primary's balancing so far: connections it handed to workers and they accepted, and
   * connections it accepted that wait for a worker now (for balancers that dispatch; a kernel
   * balancer's queue is the kernel's).
   */
  get handoffStats(): { handoffs: number; queued: number } {
    let handoffs = this.#retiredHandoffs;
    // Over every worker still running, draining ones included (they are out of `workers`, and the
    // count must never go down); an exited worker's count moved to #retiredHandoffs.
    for (const worker of this.#forked) if (worker.state !== 'dead') handoffs += worker[kHandoffsAccepted];
    return { handoffs, queued: this.#registry.queued };
  }

  /** Open shared servers; 0 when no worker holds any. */
  get openServerCount(): number {
    return this.#registry.size;
  }

  #onFrame(worker: Worker, control: ClusterChannel, frame: ClusterFrame): void {
    const act = frame['act'];
    // Unknown acts and stray acks (e.g. {cmd:'NODE_CLUSTER', ack:-1}) are ignored, as in node:cluster.
    if (typeof act !== 'string' || !Object.hasOwn(this.#frameHandlers, act)) return;
    this.#frameHandlers[act]?.(worker, control, frame);
  }

  #queryServer(worker: Worker, control: ClusterChannel, frame: ClusterFrame): void {
    // A disconnecting worker gets no new server (and no reply), as in node:cluster.
    if (worker.exitedAfterDisconnect === true) return;
    // Every other query is answered: a refusal fails the worker's listen()/bind() with `errno`.
    const refuse = (errno: number, warning: Warning): void => {
      this.#warnings.warn(worker.id, ...warning);
      control.send({ ack: frame['seq'], errno, data: null });
    };
    const malformed = (problem: string): Warning =>
      warningOf(new InvalidControlFrameError(worker.id, 'queryServer', problem));
    const query = parseListenQuery(frame);
    if (!query.ok) {
      refuse(UV_EINVAL, malformed(query.problem));
      return;
    }
    const limit = this.settings.maxServersPerWorker ?? DEFAULT_MAX_SERVERS_PER_WORKER;
    if (this.#registry.countFor(worker) >= limit) {
      refuse(UV_EMFILE, ['CORRAL_TOO_MANY_SERVERS',
        `Worker ${worker.id} asked for another server while it holds ${limit}, the most one worker may hold, so ` +
        'its listen()/bind() fails with EMFILE. If it really needs more, raise settings.maxServersPerWorker ' +
        '(createCluster({ maxServersPerWorker })); otherwise look for a server it opens again and again.']);
      return;
    }
    const { fd } = query.value;
    const problem = fd !== undefined && !this.#registry.has(query.value) ? borrowedDescriptorProblem(fd) : undefined;
    if (problem !== undefined) {
      refuse(UV_EBADF, ['CORRAL_DESCRIPTOR_REFUSED',
        `Worker ${worker.id} asked to listen on the primary's ${problem}, so corral refused it and the ` +
        "worker's listen()/bind() fails with EBADF. listen({ fd }) and bind({ fd }) may name a socket the " +
        'primary inherited (for example from systemd) or created for its workers, and uses for nothing else.']);
      return;
    }
    const cannotServe = (error: Error): void => refuse(UV_EINVAL, malformed(`it could not be served: ${error.message}`));
    // A handle that cannot travel (say, a socket no bind gave an address) must still be answered:
    // the worker's listen() fails instead of waiting for ever. (A worker that died meanwhile is not
    // warned about: ClusterChannel does not call this for it.)
    const cannotSend = (error: Error): void => {
      refuse(UV_EINVAL, ['CORRAL_LISTEN_NOT_SERVED',
        `Worker ${worker.id}'s listen()/bind() could not be answered with its server (${error.message}), so it fails ` +
        'with EINVAL. The worker sent nothing wrong; if this repeats, report it with the address it listens on.']);
    };
    try {
      this.#registry.query(worker, query.value, (reply, handle) => {
        control.send({ ...reply, ack: frame['seq'] }, handle, undefined, cannotSend);
      });
    } catch (error) {
      // Node's bind helpers throw on some inputs instead of returning an errno.
      cannotServe(error as Error);
    }
  }

  #forget(worker: Worker, control: ClusterChannel): void {
    this.#forked.delete(worker);
    this.#warnings.flushWorker(worker.id);
    this.#registry.removeWorker(worker, this.#holds(worker));
    control.close();
    this.#removeFromWorkers(worker);
  }

  #removeFromWorkers(worker: Worker): void {
    if (this.workers[worker.id] === worker) delete this.workers[worker.id];
    this.#checkDisconnectWaiters();
  }

  #checkDisconnectWaiters(): void {
    for (const waiter of [...this.#disconnectWaiters]) waiter();
  }
}

type Warning = readonly [code: CorralWarningCode, message: string];


function warningOf(error: InvalidControlFrameError): Warning {
  return [error.code, error.message];
}

